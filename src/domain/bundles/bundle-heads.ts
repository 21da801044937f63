import type { ContenderSpace } from '../../etcd/keys.js';
import { rangeAt, type EtcdStore, type TxnOp, type TxnResult } from '../../etcd/store.js';
import { decodeHolder } from '../grant.js';
import { blockedPlaces, delayKeysOp } from '../slots/lock-delay.js';
import type { BundleSlot } from './bundle.js';

/** Where a bundle's member key stands in one of its slots. */
export interface SlotStanding {
  slot: string;
  /** The key is among the first N not blocked by lock-delay: it holds its place in this slot. */
  held: boolean;
  /** The slot is in use with another capacity or lock-delay than the bundle asked for. */
  conflict?: { capacity: number; lockDelayMs: number } | undefined;
}

/**
 * The reads that tell where a bundle stands, two per slot: its first N contenders by create
 * revision (with values, for the capacity check) and its lock-delay keys.
 */
export function headOps(space: ContenderSpace, slots: readonly BundleSlot[]): TxnOp[] {
  return slots.flatMap(s => [
    {
      range: {
        prefix: space.contenders(s.slot),
        sort: { target: 'create' as const, order: 'asc' as const },
        limit: s.capacity,
      },
    },
    delayKeysOp(space, s.slot),
  ]);
}

/**
 * Reads {@link headOps} at `results[offset...]` for each slot: whether the member key holds its
 * place, and whether an older contender disagrees on capacity or lock-delay.
 */
export function standings(
  results: readonly TxnResult[],
  offset: number,
  slots: readonly BundleSlot[],
  members: readonly string[],
): SlotStanding[] {
  return slots.map((s, i) => {
    const head = rangeAt(results as TxnResult[], offset + 2 * i).kvs;
    const delays = rangeAt(results as TxnResult[], offset + 2 * i + 1).kvs;
    const key = members[i];
    const place = head.findIndex(kv => kv.key === key);
    const held = place >= 0 && place + blockedPlaces(delays, head) < s.capacity;
    const first = head[0];
    const oldest = first === undefined || first.key === key ? undefined : decodeHolder(first);
    const conflict =
      oldest !== undefined &&
      (oldest.capacity !== s.capacity || (oldest.lockDelayMs ?? 0) !== s.lockDelayMs)
        ? { capacity: oldest.capacity, lockDelayMs: oldest.lockDelayMs ?? 0 }
        : undefined;
    return { slot: s.slot, held, conflict };
  });
}

/**
 * ONE linearizable read of the heads of every slot of a bundle and of its index key (a transaction
 * of ranges, so all at one revision): the confirmation a bundle holds everywhere before it is
 * granted. `exists` is false once the bundle's keys are gone (cancelled, or its lease expired).
 */
export async function readStandings(
  store: EtcdStore,
  space: ContenderSpace,
  b: { index: string; slots: readonly BundleSlot[]; members: readonly string[] },
  signal: AbortSignal | undefined,
): Promise<{ revision: string; exists: boolean; standings: SlotStanding[] }> {
  const res = await store.txn(
    {
      compare: [],
      success: [{ range: { key: b.index, countOnly: true } }, ...headOps(space, b.slots)],
    },
    { signal },
  );
  return {
    revision: res.revision,
    exists: rangeAt(res.results, 0).count > 0,
    standings: standings(res.results, 1, b.slots, b.members),
  };
}
