import { describe, expect, it } from 'vitest';
import { Audit, type HistoryEvent } from '../../packages/cli/src/verify/audit.js';

const p = 'pfx/';

function put(key: string, revision: number, createRevision: number, value: object): HistoryEvent {
  return {
    type: 'put',
    key: `${p}${key}`,
    revision: BigInt(revision),
    createRevision: BigInt(createRevision),
    value: JSON.stringify(value),
  };
}

function del(key: string, revision: number): HistoryEvent {
  return {
    type: 'delete',
    key: `${p}${key}`,
    revision: BigInt(revision),
    createRevision: 0n,
    value: '',
  };
}

/** Replays one event per revision, in order. */
function audit(events: HistoryEvent[]) {
  const a = new Audit(p);
  for (const e of events) a.revision(e.revision, [e]);
  return a.result();
}

describe('the verify audit', () => {
  it('finds nothing in FIFO handovers of a capacity-2 slot and an election', () => {
    const r = audit([
      put('s/z#h/a', 10, 10, { capacity: 2 }),
      put('s/z#h/b', 11, 11, { capacity: 2 }),
      put('s/z#h/c', 12, 12, { capacity: 2 }),
      del('s/z#h/a', 13),
      put('e/lead#h/x', 14, 14, { capacity: 1 }),
      put('e/lead#h/y', 15, 15, { capacity: 1 }),
      del('s/z#h/b', 16),
      del('e/lead#h/x', 17),
    ]);
    expect(r).toEqual({ slots: 1, elections: 1, contenders: 5, violations: [] });
  });

  it('counts a place closed by lock-delay, so the next holder waits without a violation', () => {
    const r = audit([
      put('s/v#h/a', 10, 10, { capacity: 1, lockDelayMs: 5000 }),
      put('s/v#d/10', 11, 11, { token: '10', lockDelayMs: 5000 }),
      del('s/v#h/a', 12), // expired: its delay key stays
      put('s/v#h/b', 13, 13, { capacity: 1, lockDelayMs: 5000 }),
      del('s/v#d/10', 14), // the delay ends: b holds now
    ]);
    expect(r.violations).toEqual([]);
  });

  it('reports more holders than the capacity, and a lower token admitted after a higher one', () => {
    const r = audit([
      put('s/bad#d/5', 9, 9, { token: '5' }), // a departed holder's lock-delay closes the one place
      put('s/bad#h/a', 10, 10, { capacity: 1 }), // waits behind the delay
      put('s/bad#h/b', 12, 12, { capacity: 3 }), // claims capacity 3: counts itself a holder
      del('s/bad#d/5', 13), // a is admitted after b
    ]);
    expect(r.violations).toEqual([
      'slot "bad" (capacity 1) had 1 holders and 1 place(s) closed by lock-delay at revision 12: tokens 12',
      'slot "bad" (capacity 1) had 2 holders at revision 13: tokens 10, 12',
      'slot "bad": token 10 was admitted at revision 13 after the later token 12 had held (tokens must grow)',
    ]);
  });

  it('reports two leaders of one election', () => {
    const r = audit([
      put('e/x#h/a', 20, 20, { capacity: 1 }),
      put('e/x#h/b', 21, 21, { capacity: 2 }),
    ]);
    expect(r.violations).toEqual([
      'election "x" (capacity 1) had 2 leaders at revision 21: tokens 20, 21',
    ]);
  });
});
