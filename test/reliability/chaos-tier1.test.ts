import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsTable } from '../support/chaos/report.js';
import {
  runChaosSuite,
  type ScenarioReport,
  type SuiteReport,
} from '../support/chaos/run-suite.js';
import { faultLabel, tier1 } from '../support/chaos/scenarios.js';

/** How many fault records a scenario of `fault` writes. */
function faultRecords(fault: string): number {
  if (fault === 'lease-expiry-wait') return 2;
  return fault === 'compaction' ? 3 : 1;
}

/**
 * Tier 1 of the chaos tests (runs in `npm test`): short scenarios on a 3-member etcd cluster with
 * two slotlock replicas and four client processes; every checker must find nothing.
 */
describe('chaos tier 1: the service stays safe under faults', () => {
  let suite: SuiteReport | undefined;

  beforeAll(async () => {
    suite = await runChaosSuite({ scenarios: tier1, timeoutMs: 400_000 });
  }, 420_000);

  afterAll(() => {
    if (suite === undefined) return;
    const rows = suite.scenarios.map(r => ({
      spec: r.spec,
      isolation: suite?.isolation ?? '',
      stats: r.stats,
      results: r.results,
    }));
    console.log(
      `chaos tier 1 (${suite.isolation}, ${Math.round(suite.durationMs / 1000)} s)\n${resultsTable(rows)}`,
    );
  });

  const report = (id: string): ScenarioReport => {
    const found = suite?.scenarios.find(r => r.spec.id === id);
    if (found === undefined) throw new Error(`scenario ${id} did not run`);
    return found;
  };

  for (const spec of tier1) {
    it(`${spec.id}: no anomaly under "${faultLabel(spec)}"`, () => {
      const r = report(spec.id);
      const violations = r.results.flatMap(c => c.violations.map(v => `[${c.name}] ${v}`));
      expect(violations, violations.join('\n')).toEqual([]);
      // Enough traffic for the checks to mean something, and no contender key left behind.
      expect(r.stats.grants).toBeGreaterThan(10);
      expect(r.meta.leftoverKeys).toBe(0);
      expect(r.faults.length).toBe(faultRecords(spec.fault));
    });
  }

  it('client-pause: the resumed holder writes late and the fenced store refuses it', () => {
    const r = report('client-pause');
    const fault = r.faults[0];
    if (fault === undefined) throw new Error('no fault recorded');
    const token = /token (\d+)/.exec(fault.detail ?? '')?.[1];
    const late = r.ops.filter(
      op => op.proc === fault.target && op.token === token && op.invoke >= fault.end,
    );
    expect(late.length, 'the paused client went on with its grant').toBeGreaterThan(0);
    expect(late.filter(op => op.outcome === 'ok')).toEqual([]);
    if (r.meta.fencedStore) {
      const writes = late.filter(op => op.kind === 'fenced-write');
      expect(writes.map(op => op.code)).toEqual(
        expect.arrayContaining([expect.stringMatching(/stale_token|grant_gone/)]),
      );
    }
  });

  it('lease-expiry-wait: a waiter whose lease ended while its replica was stopped is not granted', () => {
    const r = report('lease-expiry-wait');
    expect(r.faults.map(f => f.name)).toEqual([
      'lease-expire-while-waiting',
      'lease-revoke-while-waiting',
    ]);
    for (const f of r.faults) expect(f.detail).not.toMatch(/answered 2\d\d/);
  });

  /** Sum of a scenario's increase of `s1`'s watch series whose name contains every part. */
  const s1Watch = (r: ScenarioReport, ...parts: string[]): number =>
    Object.entries(r.meta.watchMetrics)
      .filter(([k]) => k.startsWith('s1 ') && parts.every(p => k.includes(p)))
      .reduce((sum, [, v]) => sum + v, 0);

  it('watch-drop: s1 re-creates its watches after each drop', () => {
    const r = report('watch-drop');
    expect(s1Watch(r, 'restarts_total', 'watch="slots"')).toBeGreaterThanOrEqual(1);
  });

  it('compaction: s1 resyncs its watches after etcd compacted past them', () => {
    const r = report('compaction');
    expect(s1Watch(r, 'resyncs_total', 'watch="slots"')).toBeGreaterThanOrEqual(1);
    expect(s1Watch(r, 'resyncs_total', 'watch="elections"')).toBeGreaterThanOrEqual(1);
  });

  it("watched-isolate: etcd cancels s1's watches (no leader) and they move", () => {
    const r = report('watched-isolate');
    expect(s1Watch(r, 'restarts_total', 'reason="no_leader"')).toBeGreaterThanOrEqual(1);
  });

  it('replica-kill: clients fail over to the surviving replica', () => {
    const r = report('replica-kill');
    const fault = r.faults[0];
    if (fault === undefined) throw new Error('no fault recorded');
    const during = r.ops.filter(op => op.invoke >= fault.start && op.invoke <= fault.end);
    expect(during.filter(op => op.replica === 's2' && op.outcome === 'ok').length).toBeGreaterThan(
      10,
    );
  });
});
