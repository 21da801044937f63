/**
 * Safety checkers over one chaos run: pure functions of the client history, etcd's event history
 * and the run layout. Each returns every violation it finds (capped) with a readable message.
 */
import type { EventRecord, OpRecord, RunLayout } from './records.js';
import {
  RevisionBounds,
  replay,
  tokenKey,
  type KeyLife,
  type Replay,
  type SpaceName,
} from './replay.js';
import { checkFencedStore } from './fenced-checker.js';
import { checkBundleGrants, checkBundleKeys } from './bundle-checker.js';

export interface CheckResult {
  name: string;
  /** How many items (grants, writes, ...) the checker looked at. */
  checked: number;
  violations: string[];
}

/** Everything the checkers need, prepared once. */
export interface RunHistory {
  ops: readonly OpRecord[];
  events: readonly EventRecord[];
  layout: RunLayout;
}

interface Prepared {
  ops: readonly OpRecord[];
  layout: RunLayout;
  history: Replay;
  bounds: RevisionBounds;
}

const MAX_REPORTED = 20;

function result(name: string, checked: number, violations: string[]): CheckResult {
  const shown = violations.slice(0, MAX_REPORTED);
  if (violations.length > MAX_REPORTED)
    shown.push(`... and ${violations.length - MAX_REPORTED} more`);
  return { name, checked, violations: shown };
}

function prepare(run: RunHistory): Prepared {
  const history = replay(run.events, run.layout);
  return {
    ops: run.ops,
    layout: run.layout,
    history,
    bounds: new RevisionBounds(run.ops, history),
  };
}

function grantsOf(ops: readonly OpRecord[], space: SpaceName): OpRecord[] {
  const kind = space === 'slot' ? 'acquire' : 'campaign';
  return ops.filter(op => op.kind === kind && op.outcome === 'ok' && op.token !== undefined);
}

function lifeOf(p: Prepared, op: OpRecord): KeyLife | undefined {
  if (op.token === undefined) return undefined;
  return p.history.byToken.get(tokenKey(op.space, op.name, op.token));
}

function describe(op: OpRecord): string {
  return `${op.space} "${op.name}" token ${op.token ?? '?'} (${op.proc}#${op.seq} via ${op.replica})`;
}

/**
 * At most N holders per slot (space "slot") or one leader per election (space "election") at every
 * revision. A grant holds from the revision at which it was decided until its key is deleted; the
 * decision revision is not reported, so the checker counts it from a revision certainly after the
 * decision (the first write invoked after the grant completed): an under-approximation of each
 * holding interval, so any overlap it finds is a real one.
 */
export function checkHolderBound(run: RunHistory, space: SpaceName): CheckResult {
  const p = prepare(run);
  return holderBound(p, space);
}

function holderBound(p: Prepared, space: SpaceName): CheckResult {
  const grants = grantsOf(p.ops, space);
  const byName = new Map<string, { from: bigint; to: bigint | undefined; op: OpRecord }[]>();
  for (const op of grants) {
    const from = p.bounds.above(op.complete);
    const life = lifeOf(p, op);
    if (from === undefined) continue;
    const to = life?.deletedAt;
    if (to !== undefined && to <= from) continue;
    const list = byName.get(op.name) ?? [];
    list.push({ from, to, op });
    byName.set(op.name, list);
  }
  const violations: string[] = [];
  for (const [name, intervals] of byName) {
    const capacity = capacityOf(p.layout, space, name);
    const edges = intervals.flatMap(iv => [
      { rev: iv.from, d: 1, iv },
      ...(iv.to === undefined ? [] : [{ rev: iv.to, d: -1, iv }]),
    ]);
    edges.sort((a, b) => (a.rev < b.rev ? -1 : a.rev > b.rev ? 1 : a.d - b.d));
    const holding = new Set<(typeof intervals)[number]>();
    for (const e of edges) {
      if (e.d < 0) {
        holding.delete(e.iv);
        continue;
      }
      holding.add(e.iv);
      if (holding.size > capacity) {
        const who = [...holding].map(iv => iv.op.token ?? '?').join(', ');
        const what = space === 'slot' ? 'holders' : 'leaders';
        violations.push(
          `${space} "${name}" (capacity ${capacity}) had ${holding.size} ${what} at revision ${e.rev}: tokens ${who}`,
        );
      }
    }
  }
  const label = space === 'slot' ? 'at most N holders per slot' : 'at most one leader per election';
  return result(label, grants.length, violations);
}

/**
 * Every successful grant matches a create event at its token, and its key was among the first N
 * (so live) at some revision between its creation and the grant's completion; no token is granted
 * twice.
 */
export function checkGrantValidity(run: RunHistory): CheckResult {
  return grantValidity(prepare(run));
}

function grantValidity(p: Prepared): CheckResult {
  const violations: string[] = [];
  const grants = [...grantsOf(p.ops, 'slot'), ...grantsOf(p.ops, 'election')];
  const seen = new Map<string, OpRecord>();
  for (const op of grants) {
    const id = tokenKey(op.space, op.name, op.token ?? '');
    const twice = seen.get(id);
    if (twice !== undefined)
      violations.push(`${describe(op)} was also granted to ${describe(twice)}`);
    seen.set(id, op);
    const life = lifeOf(p, op);
    if (life === undefined) {
      violations.push(`${describe(op)}: no key of this ${op.space} was created at that revision`);
      continue;
    }
    if (op.key !== undefined && op.key !== life.key) {
      violations.push(`${describe(op)}: the key created at the token is not the holder's key`);
      continue;
    }
    const before = p.bounds.above(op.complete);
    if (life.headFrom === undefined || (before !== undefined && life.headFrom >= before)) {
      const when = life.headFrom === undefined ? 'never' : `only from revision ${life.headFrom}`;
      violations.push(
        `${describe(op)}: granted, but its key was among the first ${capacityOf(p.layout, op.space, op.name)} ${when}` +
          (before === undefined ? '' : ` (the grant was answered before revision ${before})`),
      );
    }
  }
  return result('grants match a live head key', grants.length, violations);
}

/**
 * A holder's key is not deleted (expired, revoked) while the holder may still believe it holds:
 * before the deadline it was given (time of the request + expiresInMs, extended by keepalives) or
 * before it asked to release. Revisions are ordered against client time by {@link RevisionBounds}.
 */
export function checkHolderDeadlines(run: RunHistory): CheckResult {
  return holderDeadlines(prepare(run));
}

function holderDeadlines(p: Prepared): CheckResult {
  const violations: string[] = [];
  const grants = [...grantsOf(p.ops, 'slot'), ...grantsOf(p.ops, 'election')];
  const later = new Map<string, OpRecord[]>();
  for (const op of p.ops) {
    if (op.token === undefined || op.kind === 'acquire' || op.kind === 'campaign') continue;
    const id = `${op.proc}\u0000${tokenKey(op.space, op.name, op.token)}`;
    later.set(id, [...(later.get(id) ?? []), op]);
  }
  for (const g of grants) {
    let believed = g.invoke + (g.expiresInMs ?? 0);
    const follow = later.get(`${g.proc}\u0000${tokenKey(g.space, g.name, g.token ?? '')}`) ?? [];
    for (const op of follow) {
      const renew = op.kind === 'keepalive' || op.kind === 'leader-keepalive';
      if (renew && op.outcome === 'ok')
        believed = Math.max(believed, op.invoke + (op.expiresInMs ?? 0));
    }
    for (const op of follow) {
      if (op.kind === 'release' || op.kind === 'resign') believed = Math.min(believed, op.invoke);
    }
    const deleted = lifeOf(p, g)?.deletedAt;
    if (deleted === undefined || believed <= g.complete) continue;
    const reached = p.bounds.atLeast(believed);
    if (reached >= deleted) {
      violations.push(
        `${describe(g)}: its key was deleted at revision ${deleted}, before the holder's deadline ` +
          `(${Math.round(believed - g.complete)} ms after the grant; revision ${reached} was already reached)`,
      );
    }
  }
  return result('no key lost before its holder deadline', grants.length, violations);
}

/** If grant A completed before grant B was invoked on the same slot/election, token A < token B. */
export function checkRealTimeOrder(run: RunHistory): CheckResult {
  const violations: string[] = [];
  let checked = 0;
  for (const space of ['slot', 'election'] as const) {
    const byName = new Map<string, OpRecord[]>();
    for (const op of grantsOf(run.ops, space))
      byName.set(op.name, [...(byName.get(op.name) ?? []), op]);
    for (const grants of byName.values()) {
      checked += grants.length;
      const done = [...grants].sort((a, b) => a.complete - b.complete);
      const started = [...grants].sort((a, b) => a.invoke - b.invoke);
      let j = 0;
      let best: OpRecord | undefined;
      for (const b of started) {
        for (; j < done.length && (done[j]?.complete ?? Infinity) < b.invoke; j++) {
          const a = done[j];
          if (
            a !== undefined &&
            (best === undefined || BigInt(a.token ?? 0) > BigInt(best.token ?? 0))
          )
            best = a;
        }
        if (best !== undefined && BigInt(best.token ?? 0) >= BigInt(b.token ?? 0)) {
          violations.push(
            `${describe(best)} completed before ${describe(b)} was invoked, yet its token is not lower`,
          );
        }
      }
    }
  }
  return result('tokens grow in real-time grant order', checked, violations);
}

function capacityOf(layout: RunLayout, space: SpaceName, name: string): number {
  const table = space === 'slot' ? layout.capacities.slots : layout.capacities.elections;
  return table[name] ?? 1;
}

/** Runs every checker; etcd's own structural anomalies are reported as one more result. */
export function checkAll(run: RunHistory): CheckResult[] {
  const p = prepare(run);
  return [
    holderBound(p, 'slot'),
    holderBound(p, 'election'),
    grantValidity(p),
    holderDeadlines(p),
    checkRealTimeOrder(run),
    checkFencedStore(run.ops, run.events, run.layout, p.history),
    checkBundleKeys(run.events, run.layout),
    checkBundleGrants(run.ops, p.history, p.bounds),
    result('etcd history is well formed', run.events.length, [...p.history.anomalies]),
  ];
}

/** Total violations over `results`. */
export function anomalies(results: readonly CheckResult[]): number {
  return results.reduce((n, r) => n + r.violations.length, 0);
}
