import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, etcdCalls, startTestService, type TestService } from '../../support/app.js';
import { eventually } from '../../support/poll.js';

/** Keys under the service prefix and leases etcd still knows, for "nothing left behind" checks. */
async function leftovers(svc: TestService, slot: string) {
  const keys = await svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#h/`).keys();
  return keys;
}

describe('slot grants over HTTP', () => {
  let svc: TestService;
  beforeAll(async () => {
    // These tests count the etcd calls and revisions of the bare algorithm: the grant quota's
    // count read and ledger key (tested in test/http/limits/quotas.test.ts) are switched off.
    svc = await startTestService({ QUOTA_GRANTS: '0' });
  });
  afterAll(async () => {
    await svc.close();
  });

  const acquire = (
    slot: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ...body },
      headers,
      timeoutMs: 30_000,
    });

  it('renews and releases only with the holder secret, and answers 410 once released', async () => {
    const g = await acquire('life-1', { ttlSeconds: 4 });
    expect(g.status).toBe(201);
    const path = `/v1/slots/life-1/grants/${g.body.token}`;
    const wrong = await call(svc.url, 'POST', `${path}/keepalive`, {
      headers: { 'slotlock-secret': 'nope' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('not_holder');
    const kept = await call(svc.url, 'POST', `${path}/keepalive`, {
      headers: { 'slotlock-secret': g.body.secret },
    });
    expect(kept.status).toBe(200);
    expect(kept.body.expiresInMs).toBeGreaterThan(3000);
    expect(kept.body.expiresInMs).toBeLessThanOrEqual(4000);
    const released = await call(svc.url, 'DELETE', path, {
      headers: { 'slotlock-secret': g.body.secret },
    });
    expect(released.status).toBe(204);
    const again = await call(svc.url, 'DELETE', path, {
      headers: { 'slotlock-secret': g.body.secret },
    });
    expect(again.status).toBe(410);
    expect(again.body.code).toBe('grant_gone');
    expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('hands an expired holder slot to the next waiter within TTL + 1 s, and the expired holder gets 410', async () => {
    const first = await acquire('life-exp', { ttlSeconds: 2 });
    const expiredAt = performance.now() + Number(first.body.expiresInMs);
    const waiter = await acquire('life-exp', { ttlSeconds: 5, waitMs: 10_000 });
    const handedAt = performance.now();
    expect(waiter.status).toBe(201);
    expect(waiter.body.waited).toBe(true);
    expect(BigInt(waiter.body.token)).toBeGreaterThan(BigInt(first.body.token));
    expect(handedAt - expiredAt).toBeLessThan(1000);
    const headers = { 'slotlock-secret': first.body.secret };
    const path = `/v1/slots/life-exp/grants/${first.body.token}`;
    expect((await call(svc.url, 'POST', `${path}/keepalive`, { headers })).status).toBe(410);
    expect((await call(svc.url, 'DELETE', path, { headers })).status).toBe(410);
  });

  it('leaves no key and no lease behind when a wait times out', async () => {
    const holder = await acquire('life-timeout', { ttlSeconds: 10 });
    const before = await leftovers(svc, 'life-timeout');
    const r = await acquire('life-timeout', { waitMs: 300 });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('wait_timeout');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(
      await eventually(
        async () => (await leftovers(svc, 'life-timeout')).length === before.length,
        2000,
      ),
    ).toBe(true);
    expect(await eventually(() => Promise.resolve(svc.services.cleanup.pending === 0), 2000)).toBe(
      true,
    );
    await call(svc.url, 'DELETE', `/v1/slots/life-timeout/grants/${holder.body.token}`, {
      headers: { 'slotlock-secret': holder.body.secret },
    });
  });

  it('removes a waiter whose HTTP client disconnects, with its lease', async () => {
    const holder = await acquire('life-dc', { ttlSeconds: 10 });
    const gone = new AbortController();
    const pending = acquire('life-dc', { waitMs: 20_000 });
    const waiting = call(svc.url, 'POST', '/v1/slots/life-dc/grants', {
      body: { holder: 'dc', waitMs: 20_000 },
      signal: gone.signal,
    }).catch(() => 'aborted');
    const count = (n: number) => async () => (await leftovers(svc, 'life-dc')).length === n;
    expect(await eventually(count(3), 3000)).toBe(true);
    const kvs = await svc.client.getAll().prefix(`${svc.services.keys.slots}life-dc#h/`).exec();
    const dcLease = kvs.kvs.find(kv => kv.value.toString().includes('"holder":"dc"'))?.lease;
    expect(dcLease).toBeDefined();
    gone.abort();
    expect(await waiting).toBe('aborted');
    // The disconnected waiter left: the holder and the other waiter remain, and its lease is gone.
    expect(await eventually(count(2), 3000)).toBe(true);
    const leaseGone = async () =>
      Number((await svc.client.leaseClient.leaseTimeToLive({ ID: dcLease ?? '0' })).TTL) < 0;
    expect(await eventually(leaseGone, 3000)).toBe(true);
    await call(svc.url, 'DELETE', `/v1/slots/life-dc/grants/${holder.body.token}`, {
      headers: { 'slotlock-secret': holder.body.secret },
    });
    const other = await pending;
    expect(other.status).toBe(201);
    await call(svc.url, 'DELETE', `/v1/slots/life-dc/grants/${other.body.token}`, {
      headers: { 'slotlock-secret': other.body.secret },
    });
    expect(await eventually(count(0), 3000)).toBe(true);
  });

  it('returns the same grant for a retried acquire with the same Idempotency-Key, and 422 for a different body', async () => {
    const key = randomUUID();
    const a = await acquire('life-idem', { ttlSeconds: 5 }, { 'idempotency-key': key });
    const b = await acquire('life-idem', { ttlSeconds: 5 }, { 'idempotency-key': key });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.token).toBe(a.body.token);
    expect(b.body.secret).toBe(a.body.secret);
    const c = await acquire('life-idem', { ttlSeconds: 6 }, { 'idempotency-key': key });
    expect(c.status).toBe(422);
    expect(c.body.code).toBe('idempotency_conflict');
    expect(await leftovers(svc, 'life-idem')).toHaveLength(1);
  });

  it('reports the queue position of a waiting acquire and cancels it by Idempotency-Key', async () => {
    const holder = await acquire('life-q', { ttlSeconds: 10 });
    const key = randomUUID();
    const waiting = acquire('life-q', { waitMs: 20_000 }, { 'idempotency-key': key });
    expect(
      await eventually(
        async () =>
          (
            await call(svc.url, 'GET', '/v1/slots/life-q/queue', {
              headers: { 'idempotency-key': key },
            })
          ).status === 200,
        3000,
      ),
    ).toBe(true);
    const pos = await call(svc.url, 'GET', '/v1/slots/life-q/queue', {
      headers: { 'idempotency-key': key },
    });
    expect(pos.body).toMatchObject({ position: 1, holding: false, capacity: 1 });
    const view = await call(svc.url, 'GET', '/v1/slots/life-q');
    expect(view.body).toMatchObject({ capacity: 1, waiting: 1 });
    expect(view.body.holders[0].token).toBe(holder.body.token);
    expect(JSON.stringify(view.body)).not.toContain(holder.body.secret);
    const cancel = await call(svc.url, 'DELETE', '/v1/slots/life-q/queue', {
      headers: { 'idempotency-key': key },
    });
    expect(cancel.status).toBe(204);
    const r = await waiting;
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('wait_cancelled');
    expect(await eventually(async () => (await leftovers(svc, 'life-q')).length === 1, 3000)).toBe(
      true,
    );
  });

  it('answers the token check: current for the holder, stale after release, with the highest token', async () => {
    const a = await acquire('life-tok', { ttlSeconds: 5 });
    const check1 = await call(svc.url, 'GET', `/v1/slots/life-tok/tokens/${a.body.token}`);
    expect(check1.body).toMatchObject({ current: true, highestToken: a.body.token });
    await call(svc.url, 'DELETE', `/v1/slots/life-tok/grants/${a.body.token}`, {
      headers: { 'slotlock-secret': a.body.secret },
    });
    const b = await acquire('life-tok', { ttlSeconds: 5 });
    const check2 = await call(svc.url, 'GET', `/v1/slots/life-tok/tokens/${a.body.token}`);
    expect(check2.body).toMatchObject({ current: false, highestToken: b.body.token });
  });

  it('rejects a capacity that disagrees with the slot holders with 409 and leaves nothing behind', async () => {
    await acquire('life-cap', { capacity: 3 });
    const r = await acquire('life-cap', { capacity: 1 });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'capacity_conflict', capacity: 3 });
    expect(
      await eventually(async () => (await leftovers(svc, 'life-cap')).length === 1, 2000),
    ).toBe(true);
  });

  it('grants several slots under one session and releases them all when the session ends', async () => {
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 5 } });
    expect(s.status).toBe(201);
    const grantsBefore = await etcdCalls(svc, 'lease_grant');
    const g1 = await acquire('sess-a', { session: s.body.session });
    const g2 = await acquire('sess-b', { session: s.body.session });
    expect([g1.status, g2.status]).toEqual([201, 201]);
    expect(g1.body.session).toBe(true);
    expect(await etcdCalls(svc, 'lease_grant')).toBe(grantsBefore);
    const held = await svc.client.getAll().prefix(`${svc.services.keys.slots}sess-`).exec();
    const sessionLease = BigInt(`0x${String(s.body.id)}`).toString();
    expect(held.kvs.map(kv => kv.lease)).toEqual([sessionLease, sessionLease]);
    const kept = await call(svc.url, 'POST', `/v1/sessions/${s.body.id}/keepalive`, {
      headers: { 'slotlock-secret': s.body.session },
    });
    expect(kept.status).toBe(200);
    const end = await call(svc.url, 'DELETE', `/v1/sessions/${s.body.id}`, {
      headers: { 'slotlock-secret': s.body.session },
    });
    expect(end.status).toBe(204);
    expect(await leftovers(svc, 'sess-a')).toHaveLength(0);
    expect(await leftovers(svc, 'sess-b')).toHaveLength(0);
    const after = await acquire('sess-c', { session: s.body.session });
    expect(after.status).toBe(410);
    expect(after.body.code).toBe('session_gone');
  });

  it('hands over without a thundering herd: queue reads per handover do not grow with the waiters', async () => {
    const readsPerHandover = async (slot: string, waiters: number) => {
      const holder = await acquire(slot, { ttlSeconds: 10 });
      const pending = Array.from({ length: waiters }, () =>
        acquire(slot, { ttlSeconds: 10, waitMs: 25_000 }),
      );
      expect(
        await eventually(async () => (await leftovers(svc, slot)).length === waiters + 1, 5000),
      ).toBe(true);
      const before = svc.services.semaphore.handoverReads;
      let current = holder.body as { token: string; secret: string };
      const results = [...pending];
      for (let i = 0; i < waiters; i++) {
        await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${current.token}`, {
          headers: { 'slotlock-secret': current.secret },
        });
        const next = await Promise.race(results.map((p, idx) => p.then(r => ({ r, idx }))));
        void results.splice(next.idx, 1);
        current = next.r.body;
      }
      await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${current.token}`, {
        headers: { 'slotlock-secret': current.secret },
      });
      return (svc.services.semaphore.handoverReads - before) / waiters;
    };
    const few = await readsPerHandover('herd-5', 5);
    const many = await readsPerHandover('herd-40', 40);
    expect(few).toBeLessThanOrEqual(2);
    expect(many).toBeLessThanOrEqual(2);
  }, 60_000);

  it('hands over in the release transaction itself when the waiter waits on the releasing replica, and through the watch when it waits on another', async () => {
    const other = await startTestService({
      ETCD_PREFIX: svc.config.ETCD_PREFIX,
      QUOTA_GRANTS: '0',
    });
    try {
      const release = (base: string, slot: string, g: { token: string; secret: string }) =>
        call(base, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
          headers: { 'slotlock-secret': g.secret },
        });
      const waitOn = (base: string, slot: string) =>
        call(base, 'POST', `/v1/slots/${slot}/grants`, {
          body: { holder: 'w', ttlSeconds: 10, waitMs: 20_000 },
          timeoutMs: 25_000,
        });
      const queued = async (slot: string, n: number) => {
        expect(await eventually(async () => (await leftovers(svc, slot)).length === n, 5000)).toBe(
          true,
        );
      };

      // Same replica: the waiter is promoted from the head the release read; no queue read.
      const held = await acquire('direct', { ttlSeconds: 10 });
      const waiting = waitOn(svc.url, 'direct');
      await queued('direct', 2);
      const readsBefore = svc.services.semaphore.handoverReads;
      const rangesBefore = await etcdCalls(svc, 'range');
      const txnsBefore = await etcdCalls(svc, 'txn');
      expect((await release(svc.url, 'direct', held.body)).status).toBe(204);
      const next = await waiting;
      expect(next.status).toBe(201);
      expect(BigInt(next.body.token)).toBeGreaterThan(BigInt(held.body.token));
      // The watched delete arrives too; it must not cause a read. Sync on the watch having
      // delivered a later change (the probe's release).
      const probe = await acquire('direct-probe', { ttlSeconds: 10 });
      await release(svc.url, 'direct-probe', probe.body);
      // (read with the raw client, so the service's own etcd counters stay untouched)
      const after = (await svc.client.get('probe').exec()).header.revision;
      expect(
        await eventually(
          () => Promise.resolve(svc.services.watch.deliveredRevision >= BigInt(after)),
          5000,
        ),
      ).toBe(true);
      expect(svc.services.semaphore.handoverReads - readsBefore).toBe(0);
      expect((await etcdCalls(svc, 'range')) - rangesBefore).toBe(0);
      // release + probe acquire + probe release: no other transaction.
      expect((await etcdCalls(svc, 'txn')) - txnsBefore).toBe(3);
      await release(svc.url, 'direct', next.body);

      // Another replica: its waiter learns of the release through the watch and reads once.
      const held2 = await acquire('via-watch', { ttlSeconds: 10 });
      const waiting2 = waitOn(other.url, 'via-watch');
      await queued('via-watch', 2);
      const otherReads = other.services.semaphore.handoverReads;
      expect((await release(svc.url, 'via-watch', held2.body)).status).toBe(204);
      const next2 = await waiting2;
      expect(next2.status).toBe(201);
      expect(other.services.semaphore.handoverReads - otherReads).toBe(1);
      await release(other.url, 'via-watch', next2.body);
    } finally {
      await other.close();
    }
  }, 60_000);
});
