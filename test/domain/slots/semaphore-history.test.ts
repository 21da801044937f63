import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotSpace } from '../../../src/etcd/keys.js';
import { idOfSecret } from '../../../src/domain/secrets.js';
import { call, startTestService, type TestService } from '../../support/app.js';
import { readHistory, replayHolders } from '../../support/history.js';

interface Hold {
  token: bigint;
  key: string;
  grantedAt: number;
  releasedAt: number;
}

/** Runs `clients` concurrent acquire(wait) → release cycles on one slot and records each hold. */
async function contend(
  svc: TestService,
  slot: string,
  clients: number,
  capacity: number,
): Promise<Hold[]> {
  const space = slotSpace(svc.services.keys);
  return Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const r = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
        body: { holder: `c${i}`, ttlSeconds: 10, capacity, waitMs: 25_000 },
        timeoutMs: 28_000,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const grantedAt = performance.now();
      const token = r.body.token as string;
      const secret = r.body.secret as string;
      // The hold ends, from the client's view, when it sends the release.
      const releasedAt = performance.now();
      const released = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${token}`, {
        headers: { 'slotlock-secret': secret },
      });
      expect(released.status).toBe(204);
      return {
        token: BigInt(token),
        key: space.contender(slot, idOfSecret(secret)),
        grantedAt,
        releasedAt,
      };
    }),
  );
}

describe('semaphore under contention (checked against etcd history)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('never lets two of 60 concurrent clients hold an exclusive slot, and hands out strictly increasing tokens in grant order', async () => {
    const from = await svc.services.store.revision();
    const holds = await contend(svc, 'excl', 60, 1);

    const byGrant = [...holds].sort((a, b) => a.grantedAt - b.grantedAt);
    for (let i = 1; i < byGrant.length; i++) {
      const prev = byGrant[i - 1];
      const next = byGrant[i];
      if (prev === undefined || next === undefined) continue;
      expect(next.token > prev.token, 'tokens increase in grant order').toBe(true);
      // Real-time mutual exclusion: the next holder learns of its grant only after the
      // previous holder sent its release.
      expect(next.grantedAt).toBeGreaterThan(prev.releasedAt);
    }
    const space = slotSpace(svc.services.keys);
    const history = await readHistory(svc.client, space.contenders('excl'), from, {
      gone: holds.map(h => h.key),
    });
    const { timeline, firstHeldAt, createRevision } = replayHolders(
      history,
      space.contenders('excl'),
      1,
    );
    expect(timeline.length).toBeGreaterThan(60);
    for (const step of timeline) expect(step.holders.length).toBeLessThanOrEqual(1);
    for (const h of holds) {
      // Every grant is a key etcd created at the token's revision and that reached the head while live.
      expect(createRevision.get(h.key)).toBe(h.token);
      expect(firstHeldAt.has(h.key), `key of token ${h.token} reached the head`).toBe(true);
    }
    // FIFO: keys reached the head in create-revision order.
    const headOrder = [...firstHeldAt.entries()]
      .sort((a, b) => (a[1] < b[1] ? -1 : 1))
      .map(([k]) => createRevision.get(k) ?? 0n);
    expect(headOrder).toEqual([...headOrder].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }, 60_000);

  it('keeps a capacity-3 slot at no more than 3 holders at every revision', async () => {
    const from = await svc.services.store.revision();
    const holds = await contend(svc, 'cap3', 24, 3);
    expect(holds).toHaveLength(24);
    const space = slotSpace(svc.services.keys);
    const history = await readHistory(svc.client, space.contenders('cap3'), from, {
      gone: holds.map(h => h.key),
    });
    const { timeline, firstHeldAt } = replayHolders(history, space.contenders('cap3'), 3);
    expect(Math.max(...timeline.map(t => t.live))).toBeGreaterThan(3);
    for (const step of timeline) expect(step.holders.length).toBeLessThanOrEqual(3);
    for (const h of holds) expect(firstHeldAt.has(h.key)).toBe(true);
    // Client-side: at no instant did more than 3 clients believe they held a place.
    const edges = holds.flatMap(h => [
      { t: h.grantedAt, d: 1 },
      { t: h.releasedAt, d: -1 },
    ]);
    edges.sort((a, b) => a.t - b.t || a.d - b.d);
    let inside = 0;
    for (const e of edges) {
      inside += e.d;
      expect(inside).toBeLessThanOrEqual(3);
    }
  }, 60_000);
});

describe('group commit keeps every slot exclusive (checked against etcd history)', () => {
  let svc: TestService;
  beforeAll(async () => {
    // One etcd call in flight: concurrent acquires and releases of different slots share calls.
    svc = await startTestService({ ETCD_TXN_IN_FLIGHT: '1' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('never lets two clients hold one slot while 8 slots are contended through shared etcd calls', async () => {
    const slots = Array.from({ length: 8 }, (_, i) => `batched-${i}`);
    const from = await svc.services.store.revision();
    const rounds = await Promise.all(
      slots.map(async slot => {
        const holds: Hold[] = [];
        for (let round = 0; round < 3; round++) holds.push(...(await contend(svc, slot, 6, 1)));
        return { slot, holds };
      }),
    );

    const sizes = await svc.services.metrics.etcdTxnBatchSize.get();
    const count = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_count');
    const sum = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_sum');
    // Batches really carried several slots' transactions.
    expect(sum?.value ?? 0).toBeGreaterThan(count?.value ?? 0);

    const space = slotSpace(svc.services.keys);
    for (const { slot, holds } of rounds) {
      expect(holds).toHaveLength(18);
      const byGrant = [...holds].sort((a, b) => a.grantedAt - b.grantedAt);
      for (let i = 1; i < byGrant.length; i++) {
        const prev = byGrant[i - 1];
        const next = byGrant[i];
        if (prev === undefined || next === undefined) continue;
        expect(next.token > prev.token, `${slot}: tokens increase in grant order`).toBe(true);
        expect(next.grantedAt).toBeGreaterThan(prev.releasedAt);
      }
      const history = await readHistory(svc.client, space.contenders(slot), from, {
        gone: holds.map(h => h.key),
      });
      const { timeline, createRevision } = replayHolders(history, space.contenders(slot), 1);
      for (const step of timeline) expect(step.holders.length).toBeLessThanOrEqual(1);
      for (const h of holds) expect(createRevision.get(h.key)).toBe(h.token);
    }
  }, 60_000);
});
