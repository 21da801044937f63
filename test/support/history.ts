/** Reads etcd's own revision history of a key prefix and replays it, for invariant checks. */
import type { Etcd3 } from 'etcd3';
import { watchPrefix, type WatchEvent } from '../../src/etcd/watch.js';

/**
 * Every put/delete under `prefix` from `fromRevision` up to etcd's current revision. The watch only
 * reports revisions that touched the prefix, and other tests keep writing elsewhere, so pass
 * `gone` (keys the test knows were deleted last) to stop as soon as all of them were seen deleted
 * instead of waiting for a revision of the prefix at or after etcd's head (bounded by 15 s).
 */
export async function readHistory(
  client: Etcd3,
  prefix: string,
  fromRevision: string,
  opts: { gone?: readonly string[] } = {},
): Promise<WatchEvent[]> {
  const head = await client.get('\0').exec();
  const until = BigInt(head.header.revision);
  const events: WatchEvent[] = [];
  if (until < BigInt(fromRevision)) return events;
  const pending = new Set(opts.gone ?? []);
  const signal = AbortSignal.timeout(15_000);
  const stop = new AbortController();
  for await (const item of watchPrefix(client, prefix, fromRevision, {
    signal: AbortSignal.any([signal, stop.signal]),
  })) {
    if (item.type !== 'events') continue;
    events.push(...item.events);
    for (const e of item.events) if (e.type === 'delete') pending.delete(e.key);
    if (BigInt(item.revision) >= until) break;
    if (opts.gone !== undefined && pending.size === 0) break;
  }
  return events;
}

export interface Occupancy {
  revision: bigint;
  /** Keys among the first `capacity` live contenders (by create revision) after this revision. */
  holders: string[];
  live: number;
}

/**
 * Replays contender keys (`<root><name>#h/<id>`) of one name in revision order and returns, after
 * each revision, which keys were among the first `capacity` live ones, and when each key first did.
 */
export function replayHolders(
  events: readonly WatchEvent[],
  contendersPrefix: string,
  capacity: number,
): {
  timeline: Occupancy[];
  firstHeldAt: Map<string, bigint>;
  createRevision: Map<string, bigint>;
} {
  const live = new Map<string, bigint>();
  const createRevision = new Map<string, bigint>();
  const firstHeldAt = new Map<string, bigint>();
  const timeline: Occupancy[] = [];
  const byRevision = new Map<bigint, WatchEvent[]>();
  for (const e of events) {
    if (!e.key.startsWith(contendersPrefix)) continue;
    const rev = BigInt(e.revision);
    byRevision.set(rev, [...(byRevision.get(rev) ?? []), e]);
  }
  for (const rev of [...byRevision.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const e of byRevision.get(rev) ?? []) {
      if (e.type === 'put') {
        const created = BigInt(e.kv.createRevision);
        live.set(e.key, created);
        createRevision.set(e.key, created);
      } else {
        live.delete(e.key);
      }
    }
    const holders = [...live.entries()]
      .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .slice(0, capacity)
      .map(([k]) => k);
    for (const k of holders) if (!firstHeldAt.has(k)) firstHeldAt.set(k, rev);
    timeline.push({ revision: rev, holders, live: live.size });
  }
  return { timeline, firstHeldAt, createRevision };
}
