import { describe, expect, it } from 'vitest';
import { checkAll, checkHolderBound, type RunHistory } from '../support/chaos/checkers.js';
import {
  bundleCheckName,
  bundleGrantCheckName,
  checkBundleKeys,
} from '../support/chaos/bundle-checker.js';
import type { EventRecord, OpRecord, RunLayout } from '../support/chaos/records.js';

const layout: RunLayout = { prefix: 'p/', capacities: { slots: { a: 1, b: 3 }, elections: {} } };
const key = (slot: string, id: string) => `p/s/${slot}#h/${id}`;
const member = (slot: string, bundle: string) => key(slot, `b.${bundle}`);

function create(k: string, revision: number): EventRecord {
  const r = String(revision);
  return {
    type: 'put',
    key: k,
    revision: r,
    createRevision: r,
    version: '1',
    lease: '7',
    value: '{}',
  };
}
function del(k: string, revision: number): EventRecord {
  return {
    type: 'delete',
    key: k,
    revision: String(revision),
    createRevision: '0',
    version: '0',
    lease: '0',
    value: '',
  };
}

let seq = 0;
function op(
  f: Partial<OpRecord> & Pick<OpRecord, 'proc' | 'kind' | 'invoke' | 'complete'>,
): OpRecord {
  return {
    seq: ++seq,
    space: 'slot',
    name: 'a',
    capacity: 1,
    replica: 's1',
    status: 200,
    outcome: 'ok',
    ...f,
  };
}

/** The acquire records of one bundle grant: one per slot, sharing the bundle id. */
function bundleGrant(
  proc: string,
  id: string,
  token: number,
  t: { invoke: number; complete: number },
): OpRecord[] {
  return ['a', 'b'].map(name =>
    op({
      proc,
      kind: 'acquire',
      name,
      capacity: layout.capacities.slots[name] ?? 1,
      ...t,
      token: String(token),
      key: member(name, id),
      bundle: id,
      expiresInMs: 2000,
    }),
  );
}

const run = (ops: OpRecord[], events: EventRecord[]): RunHistory => ({ ops, events, layout });
const failing = (h: RunHistory) =>
  checkAll(h)
    .filter(r => r.violations.length > 0)
    .map(r => r.name);

describe('chaos checkers on bundles', () => {
  it('accept a bundle whose keys appear and disappear together and that held both slots when granted', () => {
    const events = [create(member('a', 'X'), 2), create(member('b', 'X'), 2)];
    events.push(del(member('a', 'X'), 5), del(member('b', 'X'), 5));
    const ops = [
      ...bundleGrant('c1', 'X', 2, { invoke: 0, complete: 10 }),
      ...['a', 'b'].map(name =>
        op({
          proc: 'c1',
          kind: 'release',
          name,
          invoke: 20,
          complete: 25,
          token: '2',
          key: member(name, 'X'),
        }),
      ),
    ];
    const results = checkAll(run(ops, events));
    expect(results.flatMap(r => r.violations)).toEqual([]);
    expect(results.find(r => r.name === bundleCheckName)?.checked).toBe(1);
    expect(results.find(r => r.name === bundleGrantCheckName)?.checked).toBe(1);
  });

  it('catch member keys created slot by slot, and member keys deleted apart', () => {
    const apart = checkBundleKeys(
      [
        create(member('a', 'Y'), 2),
        create(member('b', 'Y'), 3),
        del(member('a', 'Y'), 6),
        create(member('a', 'Z'), 7),
        create(member('b', 'Z'), 7),
        del(member('b', 'Z'), 8),
      ],
      layout,
    );
    expect(apart.violations).toEqual([
      expect.stringMatching(/created at 2 revisions \(2, 3\)/),
      expect.stringMatching(/deleted apart .*some never/),
      expect.stringMatching(/deleted apart .*some never/),
    ]);
  });

  it('count a bundle member as a holder of its slot: a bundle granted beside a single holder of an exclusive slot is caught', () => {
    const single = key('a', 'k1');
    const events = [
      create(single, 2),
      create(member('a', 'X'), 3),
      create(member('b', 'X'), 3),
      del(member('a', 'X'), 8),
      del(member('b', 'X'), 8),
      del(single, 9),
    ];
    const ops = [
      op({ proc: 'c1', kind: 'acquire', invoke: 0, complete: 10, token: '2', key: single }),
      op({ proc: 'c1', kind: 'fenced-write', invoke: 12, complete: 13, token: '2', revision: '4' }),
      ...bundleGrant('c2', 'X', 3, { invoke: 5, complete: 20 }),
      op({ proc: 'c2', kind: 'fenced-write', invoke: 25, complete: 26, token: '3', revision: '6' }),
      op({
        proc: 'c2',
        kind: 'release',
        invoke: 40,
        complete: 41,
        token: '3',
        key: member('a', 'X'),
      }),
      op({ proc: 'c1', kind: 'release', invoke: 50, complete: 51, token: '2', key: single }),
    ];
    expect(checkHolderBound(run(ops, events), 'slot').violations).toEqual([
      expect.stringMatching(/slot "a" \(capacity 1\) had 2 holders at revision 6/),
    ]);
    expect(failing(run(ops, events))).toEqual(
      expect.arrayContaining(['at most N holders per slot', bundleGrantCheckName]),
    );
  });
});
