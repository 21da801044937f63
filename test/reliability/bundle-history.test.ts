import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/etcd/client.js';
import { startTestService } from '../support/app.js';
import { runBundleWorkload } from '../support/bundle-workload.js';
import { bundleCheckName } from '../support/chaos/bundle-checker.js';
import { checkAll } from '../support/chaos/checkers.js';
import type { EventRecord, OpRecord, RunLayout } from '../support/chaos/records.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { readHistory } from '../support/history.js';
import { startServiceProcess } from '../support/service-process.js';

const slots = ['d1', 'd2', 'v1', 'v2'];
const layout = (prefix: string): RunLayout => ({
  prefix,
  capacities: { slots: Object.fromEntries(slots.map(s => [s, 1])), elections: {} },
});

/**
 * Bundles and single-slot grants contend on a pool of drivers and vehicles; etcd's own history and
 * the client records are then judged by the chaos checkers. The negative control runs the same
 * workload against a service that takes a bundle's slots one by one (a test-only unsafe mode):
 * the checkers must catch it.
 */
describe('bundles under contention, judged by the chaos checkers', () => {
  const client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 5000, retryAfterS: 1 });
  beforeAll(() => undefined);
  afterAll(() => {
    client.close();
  });

  const judged = async (url: string, prefix: string, rounds: number, waitMs: number) => {
    const start = (await client.get('\0').exec()).header.revision;
    const ops: OpRecord[] = await runBundleWorkload({
      url,
      prefix,
      slots,
      clients: 6,
      rounds,
      waitMs,
    });
    await client.put(`${prefix}z/end`).value('end');
    const events: EventRecord[] = (
      await readHistory(client, prefix, (BigInt(start) + 1n).toString())
    ).map(e => ({
      type: e.type,
      key: e.key,
      revision: e.revision,
      createRevision: e.kv.createRevision,
      version: e.kv.version,
      lease: e.kv.lease,
      value: e.kv.value,
    }));
    return { ops, results: checkAll({ ops, events, layout: layout(prefix) }) };
  };

  it('finds no violation: at most one holder per slot counting bundle members, bundle keys together', async () => {
    const svc = await startTestService();
    try {
      const { ops, results } = await judged(svc.url, svc.config.ETCD_PREFIX, 12, 3000);
      const granted = ops.filter(o => o.kind === 'acquire' && o.outcome === 'ok');
      expect(granted.filter(o => o.bundle !== undefined).length).toBeGreaterThan(10);
      expect(results.flatMap(r => r.violations)).toEqual([]);
      // Waits never ended in a timeout: bundles that share slots in any order do not deadlock.
      expect(ops.filter(o => o.code === 'wait_timeout')).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('negative control: a service that takes a bundle slot by slot is caught', async () => {
    const prefix = uniquePrefix('bundle-unsafe');
    const svc = await startServiceProcess({
      ETCD_ENDPOINTS: etcdEndpoints().join(','),
      ETCD_PREFIX: prefix,
      NODE_ENV: 'test',
      SLOTLOCK_UNSAFE_TEST_MODE: 'bundle-slot-by-slot',
    });
    try {
      const { ops, results } = await judged(svc.url, prefix, 4, 1000);
      const failing = results.filter(r => r.violations.length > 0);
      for (const r of failing) console.log(`slot-by-slot: [${r.name}] ${r.violations[0] ?? ''}`);
      const timeouts = ops.filter(o => o.code === 'wait_timeout').length;
      console.log(`slot-by-slot: ${timeouts} acquire records ended in wait_timeout`);
      expect(failing.map(r => r.name)).toContain(bundleCheckName);
    } finally {
      await svc.stop();
    }
  }, 90_000);
});
