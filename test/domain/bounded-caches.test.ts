import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { KeyLayout, slotSpace } from '../../src/etcd/keys.js';
import { EtcdStore } from '../../src/etcd/store.js';
import { SessionDeadlines } from '../../src/domain/sessions/session-deadlines.js';
import { GrantEnds } from '../../src/domain/slots/grant-ends.js';
import { createMetrics } from '../../src/metrics.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';

/** The replica's bookkeeping stays within its bounds (issue 13, smaller items). */
describe('bounded per-replica caches', () => {
  let client: Etcd3;
  beforeAll(() => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 2000, retryAfterS: 1 });
  });
  afterAll(() => {
    client.close();
  });

  it('keeps the session deadline cache within its bound while every session is still live', () => {
    const store = new EtcdStore(client, createMetrics({ defaultMetrics: false }), 1);
    const deadlines = new SessionDeadlines(store, 100);
    const now = performance.now();
    for (let i = 0; i < 1000; i++) deadlines.renewed(`lease-${i}`, 60, now);
    expect(deadlines.size).toBeLessThanOrEqual(100);
    // The newest sessions are the ones remembered.
    expect(deadlines.grantedTtlS('lease-999')).toBe(60);
  });

  it('forgets grants whose delete was never seen once the bound is reached', () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const ends = new GrantEnds(slotSpace(new KeyLayout(uniquePrefix('ends'))), metrics, 100);
    for (let i = 0; i < 1000; i++) ends.remember(`key-${i}`);
    expect(ends.size).toBeLessThanOrEqual(100);
  });
});
