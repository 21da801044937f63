import type { LeaderView } from '../../domain/elections/leader-state.js';
import { SlotReader, type HolderView } from '../../domain/slots/slot-reader.js';
import type { Services } from '../../services.js';

/** A slot with contenders: who holds it and how many wait. */
export interface SlotOverview {
  slot: string;
  capacity: number | null;
  holders: HolderView[];
  waiting: number;
}

/** An election with candidates: who leads and how many candidates wait behind the leader. */
export interface ElectionOverview {
  election: string;
  leader: LeaderView | null;
  waiting: number;
}

export interface Overview {
  slots: { items: SlotOverview[]; truncated: boolean; limit: number };
  elections: { items: ElectionOverview[]; truncated: boolean; limit: number };
}

interface Opts {
  limit: number;
  signal: AbortSignal;
}

/** At most this many etcd reads of the overview run at once. */
const CONCURRENCY = 8;

/**
 * Reads the slots and elections that have contenders, the first `limit` of each by name, by
 * linearizable reads (no cache). A slot or election that empties between the listing and its
 * inspection is left out.
 */
export async function readOverview(s: Services, opts: Opts): Promise<Overview> {
  const [slots, elections] = await Promise.all([readSlots(s, opts), readElections(s, opts)]);
  return { slots, elections };
}

/** The slots part of {@link readOverview} on its own. */
export async function readSlots(s: Services, { limit, signal }: Opts): Promise<Overview['slots']> {
  const listed = await s.reader.list('', limit, { signal });
  const views = await mapLimit(listed.slots, CONCURRENCY, ({ slot }) =>
    s.reader.inspect(slot, { signal }),
  );
  const items = views
    .filter(v => v.holders.length > 0 || v.waiting > 0)
    .map(v => ({ slot: v.slot, capacity: v.capacity, holders: v.holders, waiting: v.waiting }));
  return { items, truncated: listed.truncated, limit };
}

/** The elections part of {@link readOverview} on its own. */
export async function readElections(
  s: Services,
  { limit, signal }: Opts,
): Promise<Overview['elections']> {
  // Elections have no list verb: list the election key space the way slots are listed.
  const reader = new SlotReader(s.store, s.elections.space, s.metrics);
  const listed = await reader.list('', limit, { signal });
  const states = await mapLimit(listed.slots, CONCURRENCY, async ({ slot, contenders }) => {
    const state = await s.elections.leader(slot, { signal });
    return { election: slot, leader: state.leader, contenders };
  });
  const items = states
    .filter(e => e.leader !== null || e.contenders > 0)
    .map(e => ({
      election: e.election,
      leader: e.leader,
      waiting: Math.max(0, e.contenders - (e.leader === null ? 0 : 1)),
    }));
  return { items, truncated: listed.truncated, limit };
}

/** Maps `items` through `fn` with at most `limit` calls in flight, keeping the order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
