/**
 * Per-principal quotas: grants (held or queued, counted in etcd across replicas), waiters (per
 * replica), election candidacies and sessions. Over a quota: 429 quota_exceeded, nothing written.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../../support/etcd.js';
import { call, startTestService, type TestService } from '../../support/app.js';

const secret = (s: string) => ({ 'slotlock-secret': s });

async function contenderKeys(svc: TestService, slot: string): Promise<number> {
  const r = await svc.services.store.range({
    prefix: `${svc.services.keys.slots}${slot}#h/`,
    countOnly: true,
  });
  return r.count;
}

async function refusals(svc: TestService, limit: string): Promise<number> {
  const m = await svc.services.metrics.limitRefusals.get();
  return m.values.find(v => v.labels.limit === limit)?.value ?? 0;
}

function acquire(url: string, slot: string, extra: Record<string, unknown> = {}) {
  return call(url, 'POST', `/v1/slots/${slot}/grants`, {
    body: { holder: 'h', ttlSeconds: 30, ...extra },
  });
}

describe('grant quota, across replicas', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    const env = { ETCD_PREFIX: uniquePrefix('quota'), QUOTA_GRANTS: '3', TTL_MAX_S: '60' };
    a = await startTestService(env);
    b = await startTestService(env);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('refuses a fourth grant with 429 on either replica, writing nothing', async () => {
    const g1 = await acquire(a.url, 'q-1');
    const g2 = await acquire(b.url, 'q-2');
    const g3 = await acquire(a.url, 'q-3');
    for (const g of [g1, g2, g3]) expect(g.status).toBe(201);
    for (const url of [a.url, b.url]) {
      const over = await acquire(url, 'q-4');
      expect(over.status).toBe(429);
      expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(over.body).toMatchObject({ code: 'quota_exceeded', quota: 'grants', limit: 3 });
    }
    expect(await contenderKeys(a, 'q-4')).toBe(0);
    expect(await refusals(a, 'grants')).toBe(1);
    expect(await refusals(b, 'grants')).toBe(1);
    // A release frees a place at once, seen by the other replica.
    const rel = await call(a.url, 'DELETE', `/v1/slots/q-1/grants/${g1.body.token}`, {
      headers: secret(g1.body.secret),
    });
    expect(rel.status).toBe(204);
    await expect
      .poll(async () => (await acquire(b.url, 'q-4')).status, { timeout: 5000 })
      .toBe(201);
  });
});

describe('grant quota under a session', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '2', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('frees a session grant’s place when it is released', async () => {
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    expect(s.status).toBe(201);
    for (let i = 0; i < 5; i++) {
      const g = await acquire(svc.url, `qs-${i}`, { session: s.body.session });
      expect(g.status).toBe(201);
      const r = await call(svc.url, 'DELETE', `/v1/slots/qs-${i}/grants/${g.body.token}`, {
        headers: secret(g.body.secret),
      });
      expect(r.status).toBe(204);
      // The ledger key goes in the background after the release answer.
      const prefix = svc.services.quotas.ledgerPrefix('grants', 'anonymous');
      await expect
        .poll(async () => (await svc.services.store.range({ prefix, countOnly: true })).count)
        .toBe(0);
    }
  });

  it('frees a session waiter’s place when its wait times out or it is withdrawn', async () => {
    const prefix = svc.services.quotas.ledgerPrefix('grants', 'anonymous');
    const ledger = async () => (await svc.services.store.range({ prefix, countOnly: true })).count;
    const held = await acquire(svc.url, 'qs-held');
    expect(held.status).toBe(201);
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    const waited = await acquire(svc.url, 'qs-held', { session: s.body.session, waitMs: 300 });
    expect(waited.status).toBe(409);
    expect(waited.body.code).toBe('wait_timeout');
    await expect.poll(ledger).toBe(1);
    // A session waiter withdrawn by its Idempotency-Key frees its place too.
    const key = randomUUID();
    const keyed = call(svc.url, 'POST', '/v1/slots/qs-held/grants', {
      body: { holder: 'k', ttlSeconds: 30, session: s.body.session, waitMs: 15_000 },
      headers: { 'idempotency-key': key },
    });
    await expect.poll(ledger, { timeout: 5000 }).toBe(2);
    const cancelled = await call(svc.url, 'DELETE', '/v1/slots/qs-held/queue', {
      headers: { 'idempotency-key': key },
    });
    expect(cancelled.status).toBe(204);
    expect((await keyed).status).toBe(409);
    expect(await ledger()).toBe(1);
    await call(svc.url, 'DELETE', `/v1/slots/qs-held/grants/${held.body.token}`, {
      headers: secret(held.body.secret),
    });
  });
});

describe('waiter, election and session quotas', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      QUOTA_WAITERS: '1',
      QUOTA_ELECTIONS: '2',
      QUOTA_SESSIONS: '2',
      TTL_MAX_S: '60',
      WAIT_MAX_MS: '20000',
    });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('allows one waiter per principal on this replica; a try is not a waiter', async () => {
    const held = await acquire(svc.url, 'qw');
    expect(held.status).toBe(201);
    const first = acquire(svc.url, 'qw', { waitMs: 15_000 });
    await expect.poll(() => svc.services.semaphore.waiting, { timeout: 5000 }).toBe(1);
    const second = await acquire(svc.url, 'qw', { waitMs: 15_000 });
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ code: 'quota_exceeded', quota: 'waiters', limit: 1 });
    expect((await acquire(svc.url, 'qw')).status).toBe(409);
    await call(svc.url, 'DELETE', `/v1/slots/qw/grants/${held.body.token}`, {
      headers: secret(held.body.secret),
    });
    const granted = await first;
    expect(granted.status).toBe(201);
    await call(svc.url, 'DELETE', `/v1/slots/qw/grants/${granted.body.token}`, {
      headers: secret(granted.body.secret),
    });
  });

  it('refuses a third election candidacy with 429', async () => {
    const c = (name: string) =>
      call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
        body: { candidate: 'w', ttlSeconds: 30 },
      });
    const e1 = await c('qe-1');
    const e2 = await c('qe-2');
    expect([e1.status, e2.status]).toEqual([201, 201]);
    const over = await c('qe-3');
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'quota_exceeded', quota: 'elections', limit: 2 });
    const keys = await svc.services.store.range({
      prefix: `${svc.services.keys.elections}qe-3#`,
      countOnly: true,
    });
    expect(keys.count).toBe(0);
    await call(svc.url, 'DELETE', `/v1/elections/qe-1/leaders/${e1.body.token}`, {
      headers: secret(e1.body.secret),
    });
    expect((await c('qe-3')).status).toBe(201);
  });

  it('refuses a third session with 429 until one ends', async () => {
    const create = () => call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    const s1 = await create();
    const s2 = await create();
    expect([s1.status, s2.status]).toEqual([201, 201]);
    const over = await create();
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'quota_exceeded', quota: 'sessions', limit: 2 });
    const end = await call(svc.url, 'DELETE', `/v1/sessions/${s1.body.id}`, {
      headers: secret(s1.body.session),
    });
    expect(end.status).toBe(204);
    expect((await create()).status).toBe(201);
  });
});

describe('grant quota count reuse', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '1000', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  async function rangeCalls(): Promise<number> {
    const m = await svc.services.metrics.etcdRequests.get();
    return m.values.filter(v => v.labels.op === 'range').reduce((sum, v) => sum + v.value, 0);
  }

  it('reads the count once for a burst far below the quota, and always near it', async () => {
    const before = await rangeCalls();
    for (let i = 0; i < 20; i++) {
      const r = await acquire(svc.url, `reuse-${i}-${randomUUID().slice(0, 8)}`);
      expect(r.status).toBe(201);
    }
    // 20 grants, one count read: the next 19 are admitted on it (budget 5 % of 1000 = 50).
    expect((await rangeCalls()) - before).toBe(1);
  });
});

describe('grant quota near its limit', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '4', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('refuses the fifth grant from a fresh count even right after admitting four', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push((await acquire(svc.url, `near-${i}-${randomUUID().slice(0, 8)}`)).status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 429]);
  });
});
