/**
 * The fenced store's checker. The store's log is etcd's own: every put of a fenced record key
 * (`<prefix>f/<slot>#v/<record>`, value `{token, value, at}`) is one applied write, in revision order.
 */
import { KeyLayout } from '../../../src/etcd/keys.js';
import type { CheckResult } from './checkers.js';
import type { EventRecord, OpRecord, RunLayout } from './records.js';
import { tokenKey, type Replay } from './replay.js';

/** One applied write, from the store's log. */
export interface AppliedWrite {
  slot: string;
  record: string;
  revision: bigint;
  token: string;
  value: string;
}

/** The store's log: applied writes in revision order. Foreign or damaged values are skipped. */
export function storeLog(events: readonly EventRecord[], prefix: string): AppliedWrite[] {
  const root = new KeyLayout(prefix).fenced;
  const out: AppliedWrite[] = [];
  for (const e of events) {
    if (e.type !== 'put' || !e.key.startsWith(root)) continue;
    const tail = e.key.slice(root.length);
    const cut = tail.lastIndexOf('#v/');
    if (cut < 0) continue;
    try {
      const body = JSON.parse(e.value) as { token?: unknown; value?: unknown };
      if (typeof body.token !== 'string' || typeof body.value !== 'string') continue;
      out.push({
        slot: tail.slice(0, cut),
        record: tail.slice(cut + 3),
        revision: BigInt(e.revision),
        token: body.token,
        value: body.value,
      });
    } catch {
      // not a fenced record
    }
  }
  return out;
}

/**
 * No acknowledged fenced write lost (each 200 is in the log at its revision, and the final read
 * agrees with the log); no stale token applied (per record, tokens never go down, and each applied
 * token belonged to a live holder among the first N at that revision); nothing applied that the
 * store refused (4xx) or that nobody sent.
 */
export function checkFencedStore(
  ops: readonly OpRecord[],
  events: readonly EventRecord[],
  layout: RunLayout,
  history: Replay,
): CheckResult {
  const log = storeLog(events, layout.prefix);
  const violations: string[] = [];
  const at = new Map(log.map(w => [`${w.slot}\u0000${w.record}\u0000${w.revision}`, w]));
  const writes = ops.filter(op => op.kind === 'fenced-write');
  for (const op of writes) {
    if (op.outcome !== 'ok') continue;
    const w = at.get(`${op.name}\u0000${op.record ?? ''}\u0000${op.revision ?? ''}`);
    if (w === undefined || w.value !== op.value || w.token !== op.token) {
      violations.push(
        `acknowledged write ${op.value ?? '?'} (token ${op.token ?? '?'}) to ${op.name}/${op.record ?? '?'} ` +
          `is not in the store's log at revision ${op.revision ?? '?'}`,
      );
    }
  }
  const highest = new Map<string, AppliedWrite>();
  for (const w of log) {
    const id = `${w.slot}\u0000${w.record}`;
    const before = highest.get(id);
    if (before !== undefined && BigInt(w.token) < BigInt(before.token)) {
      violations.push(
        `stale token applied: ${w.slot}/${w.record} took token ${w.token} at revision ${w.revision} after token ${before.token}`,
      );
    } else {
      highest.set(id, w);
    }
    const life = history.byToken.get(tokenKey('slot', w.slot, w.token));
    const holding =
      life?.headFrom !== undefined &&
      life.headFrom <= w.revision &&
      (life.deletedAt === undefined || w.revision < life.deletedAt);
    if (!holding) {
      violations.push(
        `write to ${w.slot}/${w.record} at revision ${w.revision} used token ${w.token}, which was not a live holder then`,
      );
    }
  }
  const sent = new Map(writes.map(op => [op.value ?? '', op]));
  const lastSeq = new Map<string, number>();
  for (const op of ops) lastSeq.set(op.proc, Math.max(lastSeq.get(op.proc) ?? 0, op.seq));
  for (const w of log) {
    const op = sent.get(w.value);
    if (op?.outcome === 'fail') {
      violations.push(
        `write ${w.value} was refused with ${op.status} but applied at revision ${w.revision}`,
      );
    }
    const [proc = '', seq = '0'] = w.value.split('#');
    if (op === undefined && (lastSeq.get(proc) ?? 0) > Number(seq)) {
      violations.push(`write ${w.value} at revision ${w.revision} was never sent`);
    }
  }
  for (const read of ops.filter(op => op.kind === 'fenced-read' && op.outcome === 'ok')) {
    const last = [...log].reverse().find(w => w.slot === read.name && w.record === read.record);
    if (
      last === undefined ||
      last.value !== read.value ||
      String(last.revision) !== read.revision
    ) {
      violations.push(
        `final read of ${read.name}/${read.record ?? '?'} gave ${read.value ?? '?'} at ${read.revision ?? '?'}, ` +
          `the log ends with ${last?.value ?? 'nothing'} at ${last?.revision ?? '-'}`,
      );
    }
  }
  const shown = violations.slice(0, 20);
  if (violations.length > 20) shown.push(`... and ${violations.length - 20} more`);
  return {
    name: 'fenced store: no lost or stale write',
    checked: writes.length + log.length,
    violations: shown,
  };
}
