import type { KeyValue } from '../../etcd/store.js';
import type { WatchEvent } from '../../etcd/watch.js';
import { decodeHolder, type FencingToken } from '../grant.js';

/** The leader of an election as anyone may see it: never its secret. */
export interface LeaderView {
  candidate: string;
  value: string;
  /** The term's fencing token: the leader key's create revision. */
  token: FencingToken;
  /** Time left on the leader's lease when this was read (0 if it has just gone). */
  expiresInMs: number;
}

/**
 * Who leads `election` as of etcd revision `revision`; `leader: null` means no candidate is
 * live. Observe streams one of these per change, with the revision as the SSE event id.
 */
export interface LeaderState {
  election: string;
  leader: LeaderView | null;
  revision: string;
}

/**
 * The live candidate keys of one election, rebuilt from a read and kept current by applying
 * watched events in revision order. The leader is the key with the lowest create revision.
 */
export class Candidates {
  private readonly kvs = new Map<string, KeyValue>();

  constructor(initial: readonly KeyValue[] = []) {
    for (const kv of initial) this.kvs.set(kv.key, kv);
  }

  get size(): number {
    return this.kvs.size;
  }

  /** Applies one watched change of a candidate key. */
  apply(event: WatchEvent): void {
    if (event.type === 'put') this.kvs.set(event.key, event.kv);
    else this.kvs.delete(event.key);
  }

  /** The leader's key: the live candidate with the lowest create revision. */
  head(): KeyValue | undefined {
    let best: KeyValue | undefined;
    for (const kv of this.kvs.values()) {
      if (best === undefined || BigInt(kv.createRevision) < BigInt(best.createRevision)) best = kv;
    }
    return best;
  }
}

/** True when two leader keys show the same term and the same published value. */
export function sameLeader(a: KeyValue | undefined, b: KeyValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.createRevision === b.createRevision && valueOf(a) === valueOf(b);
}

/** The view of a leader key, given the time left on its lease. */
export function leaderView(kv: KeyValue, expiresInMs: number): LeaderView {
  return {
    candidate: decodeHolder(kv)?.holder ?? '',
    value: valueOf(kv),
    token: kv.createRevision,
    expiresInMs,
  };
}

/** Splits events into runs of one revision each (a transaction's changes land together). */
export function byRevision(events: readonly WatchEvent[]): WatchEvent[][] {
  const runs: WatchEvent[][] = [];
  for (const e of events) {
    const last = runs[runs.length - 1];
    if (last?.[0]?.revision === e.revision) last.push(e);
    else runs.push([e]);
  }
  return runs;
}

function valueOf(kv: KeyValue): string {
  return decodeHolder(kv)?.value ?? '';
}
