/**
 * The two views the checkers share: etcd's history replayed per slot/election (when each contender
 * key was created, reached the first N, and was deleted) and revision bounds over real time taken
 * from the client history (what etcd revision was certainly current before/after an instant).
 */
import {
  electionSpace,
  KeyLayout,
  slotSpace,
  type ContenderSpace,
} from '../../../src/etcd/keys.js';
import type { EventRecord, OpRecord, RunLayout } from './records.js';

export type SpaceName = 'slot' | 'election';

/** The life of one contender key. `headFrom`: first revision at which it was among the first N. */
export interface KeyLife {
  key: string;
  space: SpaceName;
  name: string;
  createRevision: bigint;
  headFrom: bigint | undefined;
  deletedAt: bigint | undefined;
}

/** Contender keys by key and by (space, name, create revision), plus structural anomalies. */
export interface Replay {
  keys: Map<string, KeyLife>;
  byToken: Map<string, KeyLife>;
  /** Problems in etcd's history itself (a create of a live key, a create at the wrong revision). */
  anomalies: string[];
}

export function tokenKey(space: SpaceName, name: string, token: string | bigint): string {
  return `${space}\u0000${name}\u0000${String(token)}`;
}

interface Spaces {
  slot: ContenderSpace;
  election: ContenderSpace;
}

export function spacesOf(prefix: string): Spaces {
  const layout = new KeyLayout(prefix);
  return { slot: slotSpace(layout), election: electionSpace(layout) };
}

/** The contender a key belongs to, if it is one (`<root><name>#h/<id>`). */
export function parseContender(
  spaces: Spaces,
  key: string,
): { space: SpaceName; name: string } | undefined {
  for (const space of ['slot', 'election'] as const) {
    const parsed = spaces[space].parse(key);
    if (parsed?.rest.startsWith('h/') === true) return { space, name: parsed.name };
  }
  return undefined;
}

function capacityOf(layout: RunLayout, space: SpaceName, name: string): number {
  const table = space === 'slot' ? layout.capacities.slots : layout.capacities.elections;
  return table[name] ?? 1;
}

/** Replays `events` (in revision order) and records every contender key's life. */
export function replay(events: readonly EventRecord[], layout: RunLayout): Replay {
  const spaces = spacesOf(layout.prefix);
  const keys = new Map<string, KeyLife>();
  const byToken = new Map<string, KeyLife>();
  const anomalies: string[] = [];
  const live = new Map<string, Map<string, KeyLife>>();
  let i = 0;
  while (i < events.length) {
    const revision = BigInt(events[i]?.revision ?? '0');
    const touched = new Set<string>();
    for (; i < events.length && BigInt(events[i]?.revision ?? '0') === revision; i++) {
      const e = events[i];
      const c = e === undefined ? undefined : parseContender(spaces, e.key);
      if (e === undefined || c === undefined) continue;
      const group = `${c.space}\u0000${c.name}`;
      touched.add(group);
      const members = live.get(group) ?? new Map<string, KeyLife>();
      live.set(group, members);
      if (e.type === 'delete') {
        const life = members.get(e.key);
        if (life !== undefined) life.deletedAt = revision;
        members.delete(e.key);
        continue;
      }
      if (e.version !== '1') continue;
      if (members.has(e.key)) anomalies.push(`revision ${revision}: create of live key ${e.key}`);
      if (BigInt(e.createRevision) !== revision) {
        anomalies.push(
          `revision ${revision}: ${e.key} created with create revision ${e.createRevision}`,
        );
      }
      const life: KeyLife = {
        key: e.key,
        ...c,
        createRevision: revision,
        headFrom: undefined,
        deletedAt: undefined,
      };
      members.set(e.key, life);
      keys.set(e.key, life);
      byToken.set(tokenKey(c.space, c.name, revision), life);
    }
    for (const group of touched) {
      const members = [...(live.get(group)?.values() ?? [])];
      const first = members[0];
      if (first === undefined) continue;
      members.sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1));
      for (const life of members.slice(0, capacityOf(layout, first.space, first.name))) {
        life.headFrom ??= revision;
      }
    }
  }
  return { keys, byToken, anomalies };
}

/** A revision an operation certainly produced or saw between its invocation and completion. */
interface Witness {
  revision: bigint;
  invoke: number;
  complete: number;
  /** The revision was created after the invocation (a write), so it bounds from above too. */
  produced: boolean;
}

/**
 * Revision bounds over real time. `atLeast(t)`: a revision certainly reached before instant `t`
 * (the highest revision of an operation completed before `t`). `above(t)`: a revision certainly
 * not yet reached at `t` (the lowest revision written by an operation invoked after `t`).
 */
export class RevisionBounds {
  private readonly byComplete: { t: number; maxRev: bigint }[] = [];
  private readonly byInvoke: { t: number; minRev: bigint }[] = [];

  constructor(ops: readonly OpRecord[], history: Replay) {
    const witnesses = ops.flatMap(op => witnessOf(op, history));
    const done = [...witnesses].sort((a, b) => a.complete - b.complete);
    let max = -1n;
    for (const w of done) {
      if (w.revision > max) max = w.revision;
      this.byComplete.push({ t: w.complete, maxRev: max });
    }
    const produced = witnesses.filter(w => w.produced).sort((a, b) => b.invoke - a.invoke);
    let min: bigint | undefined;
    for (const w of produced) {
      if (min === undefined || w.revision < min) min = w.revision;
      this.byInvoke.push({ t: w.invoke, minRev: min });
    }
    this.byInvoke.reverse();
  }

  atLeast(t: number): bigint {
    let lo = 0;
    let hi = this.byComplete.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.byComplete[mid]?.t ?? Infinity) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? -1n : (this.byComplete[lo - 1]?.maxRev ?? -1n);
  }

  above(t: number): bigint | undefined {
    let lo = 0;
    let hi = this.byInvoke.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.byInvoke[mid]?.t ?? Infinity) <= t) lo = mid + 1;
      else hi = mid;
    }
    return this.byInvoke[lo]?.minRev;
  }
}

function witnessOf(op: OpRecord, history: Replay): Witness[] {
  if (op.outcome !== 'ok') return [];
  const at = (revision: bigint, produced: boolean): Witness[] => [
    { revision, invoke: op.invoke, complete: op.complete, produced },
  ];
  switch (op.kind) {
    case 'acquire':
    case 'campaign':
      return op.token === undefined ? [] : at(BigInt(op.token), true);
    case 'release':
    case 'resign': {
      const deleted = op.key === undefined ? undefined : history.keys.get(op.key)?.deletedAt;
      return deleted === undefined ? [] : at(deleted, true);
    }
    case 'fenced-write':
      return op.revision === undefined ? [] : at(BigInt(op.revision), true);
    case 'fenced-read':
    case 'revoke':
      return op.revision === undefined ? [] : at(BigInt(op.revision), false);
    default:
      return [];
  }
}
