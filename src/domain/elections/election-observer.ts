import { RevisionUnavailableError, rangeAtRevision } from '../../etcd/past-read.js';
import type { ContenderSpace } from '../../etcd/keys.js';
import type { LeaseTimeLeft } from '../lease-time-left.js';
import type { EtcdStore, KeyValue } from '../../etcd/store.js';
import { watchPrefix, WatchLostError } from '../../etcd/watch.js';
import type { WatchCounters } from '../slots/slot-watch.js';
import {
  byRevision,
  Candidates,
  leaderView,
  sameLeader,
  type LeaderState,
} from './leader-state.js';

export interface ObserveOptions {
  /**
   * Resume after this revision (an SSE Last-Event-ID): every leader change after it is replayed
   * from etcd's history, in order. If etcd compacted it away, observation starts with the current
   * state instead, as if no revision had been given.
   */
  fromRevision?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Counts the observer's watch restarts and resyncs. */
  counters?: WatchCounters | undefined;
}

/**
 * Streams who leads election `name`: first the current state (unless resuming), then one state
 * per revision at which the leader or its value changed, including the change to "no leader".
 * It watches the election's candidate keys from the revision of its read, so no change between
 * the read and the watch is missed. Ends (without error) when `signal` aborts; its watch is
 * cancelled whenever iteration stops.
 */
export async function* observeLeader(
  store: EtcdStore,
  space: ContenderSpace,
  name: string,
  timeLeft: LeaseTimeLeft,
  opts: ObserveOptions,
): AsyncGenerator<LeaderState> {
  const { signal } = opts;
  const stopped = () => signal?.aborted === true;
  const prefix = space.contenders(name);
  const state = async (kv: KeyValue | undefined, revision: string): Promise<LeaderState> => ({
    election: name,
    leader: kv === undefined ? null : leaderView(kv, await timeLeft.remainingMs(kv.lease, signal)),
    revision,
  });

  let start = await readFrom(store, prefix, opts.fromRevision, signal);
  let candidates = new Candidates(start.kvs);
  let leader = candidates.head();
  if (!start.resumed) yield await state(leader, start.revision);

  let next = BigInt(start.revision) + 1n;
  let up = false;
  const callUp = (value: boolean) => {
    if (up === value) return;
    up = value;
    opts.counters?.connected(value);
  };
  try {
    while (!stopped()) {
      try {
        const watch = watchPrefix(store.client, prefix, next.toString(), {
          signal,
          onRestart: reason => opts.counters?.restarted(reason),
        });
        for await (const item of watch) {
          if (item.type === 'connected' || item.type === 'disconnected') {
            callUp(item.type === 'connected');
          }
          if (item.type === 'progress') next = BigInt(item.revision) + 1n;
          if (item.type !== 'events') continue;
          for (const run of byRevision(item.events)) {
            for (const e of run) candidates.apply(e);
            const head = candidates.head();
            const revision = run[0]?.revision ?? item.revision;
            if (!sameLeader(head, leader)) {
              leader = head;
              yield await state(head, revision);
            }
          }
          next = BigInt(item.revision) + 1n;
        }
      } catch (err) {
        callUp(false);
        if (stopped()) return;
        if (!(err instanceof WatchLostError)) throw err;
        // Compacted past our position: continue from the current state.
        opts.counters?.resynced();
        start = await readFrom(store, prefix, undefined, signal);
        candidates = new Candidates(start.kvs);
        const head = candidates.head();
        if (!sameLeader(head, leader)) {
          leader = head;
          yield await state(head, start.revision);
        }
        next = BigInt(start.revision) + 1n;
      }
    }
  } finally {
    callUp(false);
  }
}

/** The candidates at `fromRevision` (history) or now; `resumed` tells which one was read. */
async function readFrom(
  store: EtcdStore,
  prefix: string,
  fromRevision: string | undefined,
  signal: AbortSignal | undefined,
): Promise<{ kvs: KeyValue[]; revision: string; resumed: boolean }> {
  if (fromRevision !== undefined) {
    try {
      const past = await rangeAtRevision(store, { prefix }, fromRevision, { signal });
      return { kvs: past.kvs, revision: past.revision, resumed: true };
    } catch (err) {
      if (!(err instanceof RevisionUnavailableError)) throw err;
    }
  }
  const now = await store.range({ prefix }, { signal });
  return { kvs: now.kvs, revision: now.revision, resumed: false };
}
