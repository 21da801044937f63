import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

/** Two replicas on one key prefix: a bundle waits on one, the slot is freed through the other. */
describe('waiting bundles', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    a = await startTestService();
    b = await startTestService({ ETCD_PREFIX: a.config.ETCD_PREFIX });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  const contenders = (slot: string) =>
    a.client.getAll().prefix(`${a.services.keys.slots}${slot}#h/`).keys();
  const bundle = (svc: TestService, body: Record<string, unknown>, signal?: AbortSignal) =>
    call(svc.url, 'POST', '/v1/bundles', {
      body: { holder: 'dispatcher', ttlSeconds: 10, ...body },
      timeoutMs: 30_000,
      ...(signal === undefined ? {} : { signal }),
    });
  const grant = (svc: TestService, slot: string, body: Record<string, unknown> = {}) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'single', ttlSeconds: 10, ...body },
      timeoutMs: 30_000,
    });
  const slots = (...names: string[]) => names.map(slot => ({ slot }));

  it('is granted through the watch when the holder releases on another replica', async () => {
    const held = await grant(b, 'w1-b');
    const pending = bundle(a, { slots: slots('w1-a', 'w1-b'), waitMs: 10_000 });
    await expect.poll(async () => (await contenders('w1-b')).length, { timeout: 5000 }).toBe(2);
    const released = await call(b.url, 'DELETE', `/v1/slots/w1-b/grants/${held.body.token}`, {
      headers: { 'slotlock-secret': held.body.secret },
    });
    expect(released.status).toBe(204);
    const got = await pending;
    expect(got.status).toBe(201);
    expect(got.body.waited).toBe(true);
  });

  it('withdraws every key when the wait times out or the client goes away', async () => {
    const held = await grant(a, 'w2-b');
    const timedOut = await bundle(a, { slots: slots('w2-a', 'w2-b'), waitMs: 300 });
    expect(timedOut.status).toBe(409);
    expect(timedOut.body.code).toBe('wait_timeout');
    await expect.poll(() => contenders('w2-a'), { timeout: 5000 }).toEqual([]);
    await expect.poll(async () => (await contenders('w2-b')).length, { timeout: 5000 }).toBe(1);
    const gone = new AbortController();
    const abandoned = bundle(a, { slots: slots('w2-a', 'w2-b'), waitMs: 10_000 }, gone.signal);
    await expect.poll(async () => (await contenders('w2-a')).length, { timeout: 5000 }).toBe(1);
    gone.abort();
    await expect(abandoned).rejects.toThrow();
    await expect.poll(() => contenders('w2-a'), { timeout: 5000 }).toEqual([]);
    expect(await contenders('w2-b')).toHaveLength(1);
    const released = await call(a.url, 'DELETE', `/v1/slots/w2-b/grants/${held.body.token}`, {
      headers: { 'slotlock-secret': held.body.secret },
    });
    expect(released.status).toBe(204);
  });

  it('loses all its slots together when its lease expires, and the next waiters move up', async () => {
    const got = await bundle(a, { slots: slots('w3-a', 'w3-b'), ttlSeconds: 2 });
    expect(got.status).toBe(201);
    const next = grant(b, 'w3-a', { waitMs: 10_000 });
    const started = performance.now();
    const after = await next;
    expect(after.status).toBe(201);
    expect(performance.now() - started).toBeLessThan(4000);
    expect(await contenders('w3-b')).toEqual([]);
    const kept = await call(a.url, 'POST', `/v1/bundles/${got.body.token}/keepalive`, {
      headers: { 'slotlock-secret': got.body.secret },
    });
    expect(kept.status).toBe(410);
  });

  it('writes and clears the lock-delay keys of its slots, and lives on a session', async () => {
    const withDelay = await bundle(a, {
      slots: [{ slot: 'w4-a', lockDelayMs: 2000 }, { slot: 'w4-b' }],
    });
    expect(withDelay.status).toBe(201);
    const delays = () => a.client.getAll().prefix(`${a.services.keys.slots}w4-a#d/`).keys();
    expect(await delays()).toHaveLength(1);
    const released = await call(a.url, 'DELETE', `/v1/bundles/${withDelay.body.token}`, {
      headers: { 'slotlock-secret': withDelay.body.secret },
    });
    expect(released.status).toBe(204);
    expect(await delays()).toEqual([]);
    const session = await call(a.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 5 } });
    const onSession = await bundle(a, {
      slots: slots('w4-c', 'w4-d'),
      session: session.body.session,
    });
    expect(onSession.status).toBe(201);
    expect(onSession.body.session).toBe(true);
    const ended = await call(a.url, 'DELETE', `/v1/sessions/${session.body.id}`, {
      headers: { 'slotlock-secret': session.body.session },
    });
    expect(ended.status).toBe(204);
    await expect.poll(() => contenders('w4-c'), { timeout: 5000 }).toEqual([]);
    expect(await contenders('w4-d')).toEqual([]);
  });
});
