import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeasePool, PooledLease } from '../../../src/etcd/lease-pool.js';
import { call, startTestService, type TestService } from '../../support/app.js';
import { pollValue } from '../../support/poll.js';

const ttlS = 10;

/**
 * Per-grant acquires served from the pool of pre-granted leases (issue 17): the time a lease spent
 * in the pool is deducted from the grant's reported expiry, and a pooled lease that is gone by the
 * time its acquire transaction runs costs an inline grant, never the request.
 */
describe('per-grant acquires from the lease pool', () => {
  let svc: TestService;
  let pool: LeasePool;
  /** What each acquire's take from the pool returned, in order. */
  const takes: (PooledLease | undefined)[] = [];
  /** Every lease of the grants' TTL the store granted (the pool's and the inline ones). */
  const granted: string[] = [];

  beforeAll(async () => {
    svc = await startTestService({ LEASE_POOL_SIZE: '4' });
    const p = svc.services.semaphore.context.leasePool;
    if (p === undefined) throw new Error('the service has no lease pool');
    pool = p;
    const take = pool.take.bind(pool);
    pool.take = (ttl: number) => {
      const r = take(ttl);
      takes.push(r);
      return r;
    };
    const store = svc.services.store;
    const grant = store.leaseGrant.bind(store);
    store.leaseGrant = async (ttl, opts) => {
      const id = await grant(ttl, opts);
      // Not the release markers' leases (another TTL): revoking those is not this test's matter.
      if (ttl === ttlS) granted.push(id);
      return id;
    };
  });
  afterAll(async () => {
    await svc.close();
  });

  const acquire = (slot: string) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, { body: { holder: 'h', ttlSeconds: ttlS } });
  const release = async (slot: string, g: { token: string; secret: string }) => {
    const r = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
      headers: { 'Slotlock-Secret': g.secret },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
  };
  const holderLease = async (slot: string): Promise<string | undefined> => {
    const { store, space } = svc.services.semaphore.context;
    const { kvs } = await store.range({ prefix: space.contenders(slot) });
    return kvs[0]?.lease;
  };

  it('reports no more time left than the pooled lease has, counted from when it was granted', async () => {
    const slot = `pool-${randomUUID().slice(0, 8)}`;
    let checked = 0;
    for (let i = 0; i < 40 && checked < 3; i++) {
      const sent = performance.now();
      const g = await acquire(slot);
      const answered = performance.now();
      expect(g.status).toBe(201);
      const hit = takes.at(-1);
      if (hit !== undefined) {
        // The time the lease spent in the pool (before this request was sent) is deducted.
        expect(g.body.expiresInMs).toBeLessThanOrEqual(ttlS * 1000 - (sent - hit.sentAt));
        expect(g.body.expiresInMs).toBeLessThanOrEqual(ttlS * 1000);
        expect(await holderLease(slot)).toBe(hit.id);
        const asked = performance.now();
        const left = await svc.services.store.leaseTimeToLive(hit.id);
        expect(left.grantedTtlS).toBe(ttlS);
        // etcd rounds its answer down to whole seconds: the lease's real time left lies in
        // [ttlS, ttlS + 1) s, and must cover what was reported, less the time since.
        expect(g.body.expiresInMs - (asked - answered)).toBeLessThanOrEqual((left.ttlS + 1) * 1000);
        checked++;
      }
      await release(slot, g.body);
    }
    // Back-to-back acquires of one TTL are served from the pool after the first few.
    expect(checked).toBe(3);
  });

  it('falls back to an inline grant when its pooled lease was revoked behind its back', async () => {
    const slot = `pool-gone-${randomUUID().slice(0, 8)}`;
    let fellBack = 0;
    for (let i = 0; i < 40 && fellBack < 2; i++) {
      const warm = await acquire(slot);
      expect(warm.status).toBe(201);
      await release(slot, warm.body);
      if (pool.stats.ready === 0) continue;
      // Revoke every lease granted so far through etcd3 itself: the pool's ready ones go too.
      const revoked = new Set(granted);
      await Promise.all(
        [...revoked].map(id =>
          svc.client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined),
        ),
      );
      const g = await acquire(slot);
      expect(g.status).toBe(201);
      const hit = takes.at(-1);
      if (hit !== undefined && revoked.has(hit.id)) {
        const lease = await holderLease(slot);
        expect(lease).toBeDefined();
        expect(lease).not.toBe(hit.id);
        const left = await svc.services.store.leaseTimeToLive(lease ?? '');
        expect(left.grantedTtlS).toBe(ttlS);
        expect(left.ttlS).toBeGreaterThan(0);
        expect(g.body.expiresInMs).toBeLessThanOrEqual(ttlS * 1000);
        fellBack++;
      }
      await release(slot, g.body);
    }
    expect(fellBack).toBe(2);
  });

  it('serves per-grant bundles from the pool too, with the same deduction and fallback', async () => {
    const tag = randomUUID().slice(0, 8);
    const bundleSlots = [{ slot: `pb-a-${tag}` }, { slot: `pb-b-${tag}` }];
    const acquireBundle = () =>
      call(svc.url, 'POST', '/v1/bundles', {
        body: { holder: 'b', ttlSeconds: ttlS, slots: bundleSlots },
      });
    const releaseBundle = async (b: { token: string; secret: string }) => {
      const r = await call(svc.url, 'DELETE', `/v1/bundles/${b.token}`, {
        headers: { 'Slotlock-Secret': b.secret },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(204);
    };
    // Leases the test above revoked may still be in the pool: let them age out first.
    await pollValue(
      () => Promise.resolve(pool.stats),
      st => st.ready === 0 && st.granting === 0,
      5000,
    );
    let pooledHits = 0;
    let fellBack = 0;
    for (let i = 0; i < 60 && (pooledHits < 2 || fellBack < 1); i++) {
      const revokeFirst = pooledHits >= 2 && pool.stats.ready > 0;
      const revoked = new Set(revokeFirst ? granted : []);
      await Promise.all(
        [...revoked].map(id =>
          svc.client.leaseClient.leaseRevoke({ ID: id }).catch(() => undefined),
        ),
      );
      const sent = performance.now();
      const b = await acquireBundle();
      expect(b.status, JSON.stringify(b.body)).toBe(201);
      const hit = takes.at(-1);
      const lease = await holderLease(bundleSlots[0]?.slot ?? '');
      if (hit !== undefined && !revoked.has(hit.id)) {
        expect(lease).toBe(hit.id);
        expect(b.body.expiresInMs).toBeLessThanOrEqual(ttlS * 1000 - (sent - hit.sentAt));
        pooledHits++;
      } else if (hit !== undefined) {
        expect(lease).not.toBe(hit.id);
        expect((await svc.services.store.leaseTimeToLive(lease ?? '')).ttlS).toBeGreaterThan(0);
        fellBack++;
      }
      await releaseBundle(b.body);
    }
    expect(pooledHits).toBe(2);
    expect(fellBack).toBe(1);
  });
});
