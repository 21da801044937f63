import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { pollValue } from '../../support/poll.js';

describe('per-slot lock-delay', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ LOCK_DELAY_MAX_MS: '5000' });
  });
  afterAll(async () => {
    await svc.close();
  });
  const acquire = (slot: string, body: Record<string, unknown>) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ...body },
      timeoutMs: 30_000,
    });
  const delayKeys = async (slot: string) =>
    svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#d/`).keys();

  it('keeps the slot closed for the delay after a holder expires without releasing', async () => {
    const first = await acquire('ld-exp', { ttlSeconds: 2, lockDelayMs: 1500 });
    expect(first.status).toBe(201);
    expect(await delayKeys('ld-exp')).toHaveLength(1);
    // No keepalive: the holder's lease expires; its delay key (TTL 2 s + 2 s) still blocks the place.
    const gone = await pollValue(
      () => call(svc.url, 'GET', '/v1/slots/ld-exp'),
      r => r.body.holders.length === 0,
      6000,
    );
    const expiredAt = performance.now();
    expect(gone.body).toMatchObject({ holders: [], blockedByLockDelay: 1, lockDelayMs: 1500 });
    const tryNow = await acquire('ld-exp', { ttlSeconds: 5, lockDelayMs: 1500 });
    expect(tryNow.status).toBe(409);
    expect(tryNow.body.code).toBe('slot_busy');
    expect(tryNow.body.detail).toMatch(/lock-delay/);
    const waited = await acquire('ld-exp', { ttlSeconds: 5, lockDelayMs: 1500, waitMs: 10_000 });
    expect(waited.status).toBe(201);
    expect(waited.body.waited).toBe(true);
    expect(performance.now() - expiredAt).toBeGreaterThan(1000);
    expect(BigInt(waited.body.token)).toBeGreaterThan(BigInt(first.body.token));
  }, 20_000);

  it('opens the slot at once after a clean release', async () => {
    const first = await acquire('ld-rel', { ttlSeconds: 10, lockDelayMs: 5000 });
    const waiting = acquire('ld-rel', { ttlSeconds: 10, lockDelayMs: 5000, waitMs: 10_000 });
    await pollValue(
      () => call(svc.url, 'GET', '/v1/slots/ld-rel'),
      r => r.body.waiting === 1,
      5000,
    );
    const releasedAt = performance.now();
    const rel = await call(svc.url, 'DELETE', `/v1/slots/ld-rel/grants/${first.body.token}`, {
      headers: { 'slotlock-secret': first.body.secret },
    });
    expect(rel.status).toBe(204);
    const next = await waiting;
    expect(next.status).toBe(201);
    // Far below the 5 s delay: the release removed the delay key in the same transaction.
    expect(performance.now() - releasedAt).toBeLessThan(4000);
    const keys = await delayKeys('ld-rel');
    expect(keys).toEqual([`${svc.services.keys.slots}ld-rel#d/${next.body.token}`]);
  });

  it('renews the delay key with the grant', async () => {
    const g = await acquire('ld-keep', { ttlSeconds: 2, lockDelayMs: 1000 });
    const auth = { 'slotlock-secret': g.body.secret };
    const path = `/v1/slots/ld-keep/grants/${g.body.token}/keepalive`;
    const start = performance.now();
    while (performance.now() - start < 4500) {
      expect((await call(svc.url, 'POST', path, { headers: auth })).status).toBe(200);
      await new Promise(r => setTimeout(r, 500));
    }
    const view = await call(svc.url, 'GET', '/v1/slots/ld-keep');
    expect(view.body.holders.map((h: { token: string }) => h.token)).toEqual([g.body.token]);
    expect(view.body.blockedByLockDelay).toBe(0);
    expect(await delayKeys('ld-keep')).toHaveLength(1);
  }, 15_000);

  it('rejects a different lock-delay than the slot holders use, and lock-delay with a session', async () => {
    await acquire('ld-conf', { lockDelayMs: 1000 });
    const other = await acquire('ld-conf', { lockDelayMs: 2000 });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ code: 'capacity_conflict', lockDelayMs: 1000 });
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 5 } });
    const withSession = await acquire('ld-sess', { lockDelayMs: 1000, session: s.body.session });
    expect(withSession.status).toBe(400);
    expect(withSession.body.errors[0].pointer).toBe('/body/lockDelayMs');
    const tooLong = await acquire('ld-max', { lockDelayMs: 5001 });
    expect(tooLong.status).toBe(400);
  });
});
