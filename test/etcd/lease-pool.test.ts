import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { LeasePool, type LeaseGranter } from '../../src/etcd/lease-pool.js';
import { EtcdStore } from '../../src/etcd/store.js';
import { createMetrics } from '../../src/metrics.js';
import { etcdEndpoints } from '../support/etcd.js';
import { pollValue } from '../support/poll.js';

/** Counts the pool's etcd calls and remembers what it granted and revoked. */
class CountingStore implements LeaseGranter {
  grantsSent = 0;
  grantsFailed = 0;
  readonly granted: string[] = [];
  readonly revoked: string[] = [];
  revokesDone = 0;
  /** Extra time before a grant's answer is handed to the pool (a slow etcd). */
  answerDelayMs = 0;

  constructor(private readonly store: EtcdStore) {}

  async leaseGrant(ttlS: number): Promise<string> {
    this.grantsSent++;
    try {
      const id = await this.store.leaseGrant(ttlS);
      this.granted.push(id);
      if (this.answerDelayMs > 0) await new Promise(r => setTimeout(r, this.answerDelayMs));
      return id;
    } catch (err) {
      this.grantsFailed++;
      throw err;
    }
  }

  async leaseRevoke(id: string): Promise<boolean> {
    this.revoked.push(id);
    try {
      return await this.store.leaseRevoke(id);
    } finally {
      this.revokesDone++;
    }
  }

  /** Resolves once every revoke asked for so far has been answered. */
  async revokesSettled(): Promise<void> {
    await pollValue(
      () => Promise.resolve(this.revokesDone),
      n => n >= this.revoked.length,
      3000,
      5,
    );
  }
}

/** Takes from `pool` until it hands out a lease (the first takes after idle only warm it). */
async function takeHit(pool: LeasePool, ttlS: number): Promise<{ id: string; sentAt: number }> {
  // Ready leases of other TTLs are counted too: wait for one more than before.
  const before = pool.stats.ready;
  pool.take(ttlS);
  pool.take(ttlS);
  await pollValue(
    () => Promise.resolve(pool.stats.ready),
    n => n > before,
    3000,
    5,
  );
  const hit = pool.take(ttlS);
  if (hit === undefined) throw new Error('the pool had a ready lease but handed out none');
  return hit;
}

describe('LeasePool (real etcd)', () => {
  let client: Etcd3;
  let store: EtcdStore;
  const pools: LeasePool[] = [];
  beforeAll(() => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 2000, retryAfterS: 1 });
    store = new EtcdStore(client, createMetrics({ defaultMetrics: false }), 1);
  });
  afterAll(async () => {
    for (const p of pools) await p.close();
    client.close();
  });
  const newPool = (s: LeaseGranter, opts: ConstructorParameters<typeof LeasePool>[1]) => {
    const p = new LeasePool(s, opts);
    pools.push(p);
    return p;
  };

  it('hands out a fresh lease of exactly the TTL asked for, oldest first, and refills after a take', async () => {
    const counting = new CountingStore(store);
    const pool = newPool(counting, { size: 2, maxAgeMs: 2000 });
    // The first take after idle finds nothing and pre-grants nothing (no recent demand).
    expect(pool.take(7)).toBeUndefined();
    expect(counting.grantsSent).toBe(0);
    const hit = await takeHit(pool, 7);
    expect(performance.now() - hit.sentAt).toBeLessThanOrEqual(2000);
    expect(counting.granted).toContain(hit.id);
    const ttl = await store.leaseTimeToLive(hit.id);
    expect(ttl.grantedTtlS).toBe(7);
    expect(ttl.ttlS).toBeGreaterThan(0);
    expect(ttl.ttlS).toBeLessThanOrEqual(7);
    // That take refilled the TTL: another lease is on its way or ready.
    expect(pool.stats.ready + pool.stats.granting).toBeGreaterThan(0);
    await pollValue(
      () => Promise.resolve(pool.stats.ready),
      n => n > 0,
      3000,
      5,
    );
    const next = pool.take(7);
    expect(next).toBeDefined();
    expect(next?.id).not.toBe(hit.id);
    // Another TTL is another pool: no 7 s lease is handed out for 9 s.
    expect(pool.take(9)).toBeUndefined();
    await store.leaseRevoke(hit.id);
    if (next !== undefined) await store.leaseRevoke(next.id);
  });

  it('never hands out a lease whose grant was sent longer ago than the max age, and revokes it', async () => {
    const counting = new CountingStore(store);
    const pool = newPool(counting, { size: 1, maxAgeMs: 60 });
    // etcd's answers reach the pool 100 ms after the grant was sent: too old on arrival.
    counting.answerDelayMs = 100;
    pool.take(6);
    pool.take(6);
    await pollValue(
      () => Promise.resolve(counting.revoked.length),
      n => n > 0,
      3000,
      5,
    );
    expect(pool.take(6)).toBeUndefined();
    const [stale] = counting.revoked;
    await counting.revokesSettled();
    expect(stale).toBe(counting.granted[0]);
    expect((await store.leaseTimeToLive(stale ?? '')).ttlS).toBe(-1);
  });

  it('stops when unused: what ages out is revoked and nothing more is granted', async () => {
    const counting = new CountingStore(store);
    const pool = newPool(counting, { size: 3, maxAgeMs: 80 });
    for (let i = 0; i < 4; i++) pool.take(5);
    await pollValue(
      () => Promise.resolve(pool.stats.ready),
      n => n > 0,
      3000,
      5,
    );
    // Idle from now on: the sweep revokes every ready lease once it is older than the max age.
    const idle = await pollValue(
      () => Promise.resolve(pool.stats),
      s => s.ready === 0 && s.granting === 0,
      3000,
      10,
    );
    expect(idle).toMatchObject({ ready: 0, granting: 0 });
    const sent = counting.grantsSent;
    expect(sent).toBeLessThanOrEqual(3);
    expect([...counting.revoked].sort()).toEqual([...counting.granted].sort());
    await counting.revokesSettled();
    for (const id of counting.granted) {
      expect((await store.leaseTimeToLive(id)).ttlS).toBe(-1);
    }
    // Nothing is scheduled any more: a few max ages later still no new grant.
    await new Promise(r => setTimeout(r, 300));
    expect(counting.grantsSent).toBe(sent);
    // And a single take after the quiet spell only misses; it pre-grants nothing.
    expect(pool.take(5)).toBeUndefined();
    expect(counting.grantsSent).toBe(sent);
  });

  it('keeps a bounded number of TTLs, dropping the least recently taken', async () => {
    const counting = new CountingStore(store);
    const pool = newPool(counting, { size: 1, maxAgeMs: 2000, maxTtls: 2 });
    await takeHit(pool, 4).then(h => store.leaseRevoke(h.id));
    await takeHit(pool, 5).then(h => store.leaseRevoke(h.id));
    await pollValue(
      () => Promise.resolve(pool.stats.granting),
      n => n === 0,
      3000,
      5,
    );
    expect(pool.stats).toMatchObject({ ttls: 2, ready: 2 });
    const revokedBefore = counting.revoked.length;
    pool.take(6);
    // TTL 4 went with its ready lease (the refill after its hit); TTL 5's stays.
    expect(pool.stats).toMatchObject({ ttls: 2, ready: 1 });
    expect(counting.revoked.length).toBe(revokedBefore + 1);
    const dropped = counting.revoked.at(-1) ?? '';
    expect(pool.take(4)).toBeUndefined();
    await pool.close();
    await counting.revokesSettled();
    expect((await store.leaseTimeToLive(dropped)).ttlS).toBe(-1);
    // Closing revoked the rest.
    for (const id of counting.granted) expect((await store.leaseTimeToLive(id)).ttlS).toBe(-1);
  });

  it('never throws into callers while etcd fails, backs off, and pre-grants nothing meanwhile', async () => {
    // A port that accepts and closes every connection: etcd "fails" for real over gRPC.
    const server: Server = createServer(sock => sock.destroy());
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const dead = connectEtcd({
      endpoints: [`http://127.0.0.1:${port}`],
      callTimeoutMs: 300,
      retryAfterS: 1,
    });
    try {
      const counting = new CountingStore(
        new EtcdStore(dead, createMetrics({ defaultMetrics: false }), 1),
      );
      const pool = newPool(counting, { size: 4, maxAgeMs: 250 });
      expect(pool.take(8)).toBeUndefined();
      expect(pool.take(8)).toBeUndefined();
      expect(counting.grantsSent).toBe(1);
      await pollValue(
        () => Promise.resolve(counting.grantsFailed),
        n => n > 0,
        5000,
        10,
      );
      // Backing off: a burst of takes right after the failure sends no grant at all.
      const sent = counting.grantsSent;
      for (let i = 0; i < 50; i++) expect(pool.take(8)).toBeUndefined();
      expect(counting.grantsSent).toBe(sent);
      expect(pool.stats.ready).toBe(0);
      await pool.close();
    } finally {
      dead.close();
      await new Promise<void>(resolve =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });
});
