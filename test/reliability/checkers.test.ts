import { describe, expect, it } from 'vitest';
import {
  anomalies,
  checkAll,
  checkGrantValidity,
  checkHolderBound,
  checkHolderDeadlines,
  checkRealTimeOrder,
  type RunHistory,
} from '../support/chaos/checkers.js';
import { checkFencedStore } from '../support/chaos/fenced-checker.js';
import type { EventRecord, OpRecord, RunLayout } from '../support/chaos/records.js';
import { replay } from '../support/chaos/replay.js';

const layout: RunLayout = {
  prefix: 'p/',
  capacities: { slots: { a: 1, b: 3 }, elections: { e: 1 } },
};
const slotKey = (slot: string, id: string) => `p/s/${slot}#h/${id}`;
const leaderKey = (id: string) => `p/e/e#h/${id}`;
const fencedKey = (slot: string, record: string) => `p/f/${slot}#v/${record}`;

function create(key: string, revision: number): EventRecord {
  const r = String(revision);
  return {
    type: 'put',
    key,
    revision: r,
    createRevision: r,
    version: '1',
    lease: '7',
    value: '{}',
  };
}
function del(key: string, revision: number): EventRecord {
  return {
    type: 'delete',
    key,
    revision: String(revision),
    createRevision: '0',
    version: '0',
    lease: '0',
    value: '',
  };
}
function fencedPut(
  slot: string,
  record: string,
  revision: number,
  token: number,
  value: string,
): EventRecord {
  return {
    ...create(fencedKey(slot, record), revision),
    value: JSON.stringify({ token: String(token), value, at: 0 }),
  };
}

let seq = 0;
function op(
  fields: Partial<OpRecord> & Pick<OpRecord, 'proc' | 'kind' | 'invoke' | 'complete'>,
): OpRecord {
  const election =
    fields.kind === 'campaign' || fields.kind === 'resign' || fields.kind === 'leader-keepalive';
  return {
    seq: ++seq,
    space: election ? 'election' : 'slot',
    name: election ? 'e' : 'a',
    capacity: 1,
    replica: 's1',
    status: 200,
    outcome: 'ok',
    ...fields,
  };
}

/**
 * A correct run on exclusive slot "a": c1 holds (token 2), c2 waits (token 3) and is granted after
 * c1's release (revision 5); both write the fenced record "r"; a final read sees c2's write.
 */
function correctRun(): { ops: OpRecord[]; events: EventRecord[] } {
  const k1 = slotKey('a', 'k1');
  const k2 = slotKey('a', 'k2');
  return {
    events: [
      create(k1, 2),
      create(k2, 3),
      fencedPut('a', 'r', 4, 2, 'c1#2'),
      del(k1, 5),
      fencedPut('a', 'r', 6, 3, 'c2#2'),
      del(k2, 7),
    ],
    ops: [
      op({
        proc: 'c1',
        seq: 1,
        kind: 'acquire',
        invoke: 0,
        complete: 10,
        token: '2',
        key: k1,
        expiresInMs: 2000,
      }),
      op({
        proc: 'c2',
        seq: 1,
        kind: 'acquire',
        invoke: 5,
        complete: 40,
        token: '3',
        key: k2,
        expiresInMs: 2000,
      }),
      op({
        proc: 'c1',
        seq: 2,
        kind: 'fenced-write',
        invoke: 12,
        complete: 15,
        token: '2',
        record: 'r',
        value: 'c1#2',
        revision: '4',
      }),
      op({
        proc: 'c1',
        seq: 3,
        kind: 'release',
        invoke: 20,
        complete: 25,
        token: '2',
        key: k1,
        status: 204,
      }),
      op({
        proc: 'c2',
        seq: 2,
        kind: 'fenced-write',
        invoke: 45,
        complete: 50,
        token: '3',
        record: 'r',
        value: 'c2#2',
        revision: '6',
      }),
      op({
        proc: 'c2',
        seq: 3,
        kind: 'release',
        invoke: 60,
        complete: 65,
        token: '3',
        key: k2,
        status: 204,
      }),
      op({
        proc: 'runner',
        seq: 1,
        kind: 'fenced-read',
        invoke: 70,
        complete: 75,
        record: 'r',
        value: 'c2#2',
        revision: '6',
      }),
    ],
  };
}

const run = (ops: OpRecord[], events: EventRecord[]): RunHistory => ({ ops, events, layout });

describe('chaos checkers', () => {
  it('accept a correct history (positive control)', () => {
    const { ops, events } = correctRun();
    const results = checkAll(run(ops, events));
    expect(results.flatMap(r => r.violations)).toEqual([]);
    expect(anomalies(results)).toBe(0);
    expect(results.find(r => r.name.startsWith('grants'))?.checked).toBe(2);
  });

  it('count two overlapping holders of an exclusive slot', () => {
    const { ops, events } = correctRun();
    // c2 is told it holds at t=18 while c1 still holds and writes (revision 5) before releasing.
    const bad = ops.map(o =>
      o.proc === 'c2' && o.kind === 'acquire' ? { ...o, complete: 18 } : o,
    );
    bad.push(
      op({
        proc: 'c1',
        seq: 9,
        kind: 'fenced-write',
        invoke: 19,
        complete: 19.5,
        token: '2',
        record: 'q',
        value: 'c1#9',
        revision: '5',
      }),
    );
    const shifted = events.map(e =>
      Number(e.revision) >= 5 ? { ...e, revision: String(Number(e.revision) + 1) } : e,
    );
    shifted.splice(3, 0, fencedPut('a', 'q', 5, 2, 'c1#9'));
    const fixed = bad.map(o =>
      o.kind === 'fenced-write' && o.proc === 'c2' ? { ...o, revision: '7' } : o,
    );
    const result = checkHolderBound(run(fixed, shifted), 'slot');
    expect(result.violations[0]).toMatch(/slot "a" \(capacity 1\) had 2 holders at revision 5/);
    expect(checkGrantValidity(run(fixed, shifted)).violations[0]).toMatch(
      /token 3 .* among the first 1 only from revision 6/,
    );
  });

  it('count two leaders of one election', () => {
    const l1 = leaderKey('l1');
    const l2 = leaderKey('l2');
    const events = [
      create(l1, 2),
      create(l2, 3),
      create(slotKey('b', 'x'), 4),
      del(l1, 5),
      del(l2, 6),
    ];
    const ops = [
      op({
        proc: 'w1',
        kind: 'campaign',
        invoke: 0,
        complete: 1,
        token: '2',
        key: l1,
        expiresInMs: 2000,
      }),
      op({
        proc: 'w2',
        kind: 'campaign',
        invoke: 2,
        complete: 3,
        token: '3',
        key: l2,
        expiresInMs: 2000,
      }),
      op({
        proc: 'c9',
        kind: 'acquire',
        name: 'b',
        invoke: 3.5,
        complete: 4,
        token: '4',
        expiresInMs: 2000,
      }),
      op({
        proc: 'w1',
        kind: 'resign',
        invoke: 10,
        complete: 11,
        token: '2',
        key: l1,
        status: 204,
      }),
    ];
    expect(checkHolderBound(run(ops, events), 'election').violations).toEqual([
      'election "e" (capacity 1) had 2 leaders at revision 4: tokens 2, 3',
    ]);
    expect(checkGrantValidity(run(ops, events)).violations).toHaveLength(1);
  });

  it('reject a grant with no create event, with another key, or granted twice', () => {
    const { ops, events } = correctRun();
    const phantom = op({
      proc: 'c3',
      kind: 'acquire',
      invoke: 80,
      complete: 81,
      token: '99',
      expiresInMs: 1,
    });
    const twice = op({
      proc: 'c4',
      kind: 'acquire',
      invoke: 80,
      complete: 81,
      token: '2',
      expiresInMs: 1,
    });
    const wrongKey = op({
      proc: 'c5',
      kind: 'acquire',
      invoke: 80,
      complete: 81,
      token: '3',
      key: slotKey('a', 'zz'),
    });
    const v = checkGrantValidity(run([...ops, phantom, twice, wrongKey], events)).violations;
    expect(v.some(m => /token 99 .*no key of this slot was created/.test(m))).toBe(true);
    expect(v.some(m => /token 2 \(c4#\d+ via s1\) was also granted/.test(m))).toBe(true);
    expect(v.some(m => /token 3 .*not the holder's key/.test(m))).toBe(true);
  });

  it("reject a key that expired before its holder's deadline", () => {
    const k1 = slotKey('a', 'k1');
    const events = [create(k1, 2), del(k1, 3), create(slotKey('b', 'y'), 4)];
    const grant = op({
      proc: 'c1',
      kind: 'acquire',
      invoke: 0,
      complete: 5,
      token: '2',
      key: k1,
      expiresInMs: 2000,
    });
    // A witness completed 100 ms in (revision 4 > 3): the key was gone while c1 still had 1.9 s.
    const early = op({
      proc: 'c2',
      kind: 'acquire',
      name: 'b',
      invoke: 90,
      complete: 100,
      token: '4',
    });
    expect(checkHolderDeadlines(run([grant, early], events)).violations[0]).toMatch(
      /token 2 .*deleted at revision 3, before the holder's deadline/,
    );
    // The same expiry observed only after the deadline is fine.
    const late = { ...early, invoke: 2500, complete: 2600 };
    expect(checkHolderDeadlines(run([grant, late], events)).violations).toEqual([]);
    // So is a keepalive-extended deadline that the expiry respects, and a release before it.
    const released = op({
      proc: 'c1',
      kind: 'release',
      invoke: 50,
      complete: 60,
      token: '2',
      key: k1,
    });
    expect(checkHolderDeadlines(run([grant, early, released], events)).violations).toEqual([]);
  });

  it('reject tokens that do not grow in real-time order', () => {
    const events = [create(slotKey('b', 'x'), 4), create(slotKey('b', 'y'), 5)];
    const a = op({ proc: 'c1', kind: 'acquire', name: 'b', invoke: 0, complete: 10, token: '5' });
    const b = op({ proc: 'c2', kind: 'acquire', name: 'b', invoke: 20, complete: 30, token: '4' });
    expect(checkRealTimeOrder(run([a, b], events)).violations[0]).toMatch(
      /token 5 .*completed before slot "b" token 4 .*not lower/,
    );
    // Overlapping requests may complete in either order.
    expect(checkRealTimeOrder(run([a, { ...b, invoke: 5 }], events)).violations).toEqual([]);
  });

  describe('fenced store', () => {
    const check = (ops: OpRecord[], events: EventRecord[]) =>
      checkFencedStore(ops, events, layout, replay(events, layout)).violations;

    it('rejects an acknowledged write missing from the log', () => {
      const { ops, events } = correctRun();
      const lost = events.filter(e => e.revision !== '6');
      const v = check(ops, lost);
      expect(
        v.some(m => /acknowledged write c2#2 .* not in the store's log at revision 6/.test(m)),
      ).toBe(true);
      expect(v.some(m => /final read .* gave c2#2 at 6, the log ends with c1#2 at 4/.test(m))).toBe(
        true,
      );
    });

    it('rejects a stale token applied after a newer one', () => {
      // c1 (token 2) writes again at revision 6, after c2 (token 3) wrote at 5; c1's key is live.
      const k1 = slotKey('b', 'k1');
      const k2 = slotKey('b', 'k2');
      const ev = [
        create(k1, 2),
        create(k2, 3),
        fencedPut('b', 'r', 5, 3, 'c2#1'),
        fencedPut('b', 'r', 6, 2, 'c1#5'),
      ];
      const w = [
        op({
          proc: 'c2',
          seq: 1,
          kind: 'fenced-write',
          name: 'b',
          invoke: 0,
          complete: 1,
          token: '3',
          record: 'r',
          value: 'c2#1',
          revision: '5',
        }),
        op({
          proc: 'c1',
          seq: 5,
          kind: 'fenced-write',
          name: 'b',
          invoke: 2,
          complete: 3,
          token: '2',
          record: 'r',
          value: 'c1#5',
          revision: '6',
        }),
      ];
      expect(check(w, ev)).toEqual([
        'stale token applied: b/r took token 2 at revision 6 after token 3',
      ]);
    });

    it('rejects a write applied after its holder was gone, or one the store refused', () => {
      const { ops, events } = correctRun();
      // c1 wrote at revision 5.5 -> 8, after its key was deleted at 5; and its op got 409.
      const late = fencedPut('a', 'r', 8, 2, 'c1#4');
      const refused = op({
        proc: 'c1',
        seq: 4,
        kind: 'fenced-write',
        invoke: 66,
        complete: 67,
        token: '2',
        record: 'r',
        value: 'c1#4',
        status: 409,
        outcome: 'fail',
      });
      const v = check([...ops.filter(o => o.kind !== 'fenced-read'), refused], [...events, late]);
      expect(v).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            /stale token applied: a\/r took token 2 at revision 8 after token 3/,
          ),
          expect.stringMatching(/used token 2, which was not a live holder then/),
          expect.stringMatching(/write c1#4 was refused with 409 but applied at revision 8/),
        ]),
      );
    });

    it('rejects a write nobody sent', () => {
      const { ops, events } = correctRun();
      const ghost = fencedPut('a', 'r', 6, 3, 'c2#1');
      const v = check(ops, [...events.filter(e => e.revision !== '6'), ghost]);
      expect(v.some(m => /write c2#1 at revision 6 was never sent/.test(m))).toBe(true);
    });
  });
});
