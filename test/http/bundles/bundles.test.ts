import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

/** Contender keys and bundle index keys left in etcd under this service's prefix. */
async function contenders(svc: TestService, slot: string): Promise<string[]> {
  return svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#h/`).keys();
}

describe('bundles over HTTP', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  const bundle = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call(svc.url, 'POST', '/v1/bundles', {
      body: { holder: 'dispatcher', ttlSeconds: 10, ...body },
      headers,
      timeoutMs: 30_000,
    });
  const grant = (slot: string, body: Record<string, unknown> = {}) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'single', ttlSeconds: 10, ...body },
      timeoutMs: 30_000,
    });
  const releaseGrant = (slot: string, g: { token: string; secret: string }) =>
    call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
      headers: { 'slotlock-secret': g.secret },
    });
  const releaseBundle = (b: { token: string; secret: string }) =>
    call(svc.url, 'DELETE', `/v1/bundles/${b.token}`, {
      headers: { 'slotlock-secret': b.secret },
    });
  const slots = (...names: string[]) => names.map(slot => ({ slot }));

  it('grants every slot of a free bundle at once, one token shared by all its slots', async () => {
    const b = await bundle({ slots: slots('t1-driver', 't1-vehicle', 't1-zone') });
    expect(b.status).toBe(201);
    expect(b.headers.get('location')).toBe(`/v1/bundles/${b.body.token}`);
    expect(b.body.slots.map((x: { token: string }) => x.token)).toEqual([
      b.body.token,
      b.body.token,
      b.body.token,
    ]);
    for (const slot of ['t1-driver', 't1-vehicle', 't1-zone']) {
      const view = await call(svc.url, 'GET', `/v1/slots/${slot}`);
      expect(view.body.holders).toEqual([
        expect.objectContaining({ holder: 'dispatcher', token: b.body.token }),
      ]);
    }
    const kept = await call(svc.url, 'POST', `/v1/bundles/${b.body.token}/keepalive`, {
      headers: { 'slotlock-secret': b.body.secret },
    });
    expect(kept.status).toBe(200);
    expect(kept.body.expiresInMs).toBeGreaterThan(8000);
    expect((await releaseBundle(b.body)).status).toBe(204);
    for (const slot of ['t1-driver', 't1-vehicle', 't1-zone']) {
      expect(await contenders(svc, slot)).toEqual([]);
    }
    expect((await releaseBundle(b.body)).status).toBe(410);
  });

  it('try mode is all or nothing: a full slot fails the bundle with the busy slots named, leaving no key behind', async () => {
    const holder = await grant('t2-vehicle');
    expect(holder.status).toBe(201);
    const b = await bundle({ slots: slots('t2-driver', 't2-vehicle') });
    expect(b.status).toBe(409);
    expect(b.body.code).toBe('slot_busy');
    expect(b.body.busy).toEqual(['t2-vehicle']);
    // Nothing of the bundle is left in either slot (its lease was revoked with its keys).
    await expect.poll(() => contenders(svc, 't2-driver'), { timeout: 5000 }).toEqual([]);
    const vehicle = await call(svc.url, 'GET', '/v1/slots/t2-vehicle');
    expect(vehicle.body.holders.map((h: { token: string }) => h.token)).toEqual([
      holder.body.token,
    ]);
    expect(vehicle.body.waiting).toBe(0);
    const driver = await grant('t2-driver');
    expect(driver.status).toBe(201);
  });

  it('a bundle waiting behind a single-slot holder is granted when that holder releases', async () => {
    const holder = await grant('t3-b');
    const pending = bundle({ slots: slots('t3-a', 't3-b'), waitMs: 10_000 });
    // A single-slot acquire of "t3-a" made after the bundle queued is ordered behind it.
    await expect
      .poll(async () => (await contenders(svc, 't3-b')).length, { timeout: 5000 })
      .toBe(2);
    const later = grant('t3-a', { waitMs: 10_000 });
    await expect
      .poll(async () => (await contenders(svc, 't3-a')).length, { timeout: 5000 })
      .toBe(2);
    expect((await releaseGrant('t3-b', holder.body)).status).toBe(204);
    const b = await pending;
    expect(b.status).toBe(201);
    expect(b.body.waited).toBe(true);
    expect(BigInt(b.body.token)).toBeGreaterThan(BigInt(holder.body.token));
    expect((await releaseBundle(b.body)).status).toBe(204);
    const single = await later;
    expect(single.status).toBe(201);
    expect(BigInt(single.body.token)).toBeGreaterThan(BigInt(b.body.token));
  });

  it('dispatchers locking {A, B} and {B, A} (or a cycle of three) concurrently never deadlock', async () => {
    const rounds = 25;
    let waited = 0;
    const worker = async (order: string[], label: string) => {
      const tokens: string[] = [];
      for (let i = 0; i < rounds; i++) {
        const b = await bundle({ holder: label, slots: slots(...order), waitMs: 5000 });
        expect(b.status, JSON.stringify(b.body)).toBe(201);
        tokens.push(b.body.token);
        if (b.body.waited === true) waited++;
        expect((await releaseBundle(b.body)).status).toBe(204);
      }
      return tokens;
    };
    const started = performance.now();
    const [x, y] = await Promise.all([
      worker(['t4-A', 't4-B'], 'x'),
      worker(['t4-B', 't4-A'], 'y'),
    ]);
    expect(x).toHaveLength(rounds);
    expect(y).toHaveLength(rounds);
    // No round waited for a wait timeout: far below one 5 s timeout per round.
    expect(performance.now() - started).toBeLessThan(20_000);
    // Three dispatchers in a cycle ({A, B}, {B, C}, {C, A}: the dining philosophers) neither.
    const [p, q, r] = await Promise.all([
      worker(['t4-A', 't4-B'], 'p'),
      worker(['t4-B', 't4-C'], 'q'),
      worker(['t4-C', 't4-A'], 'r'),
    ]);
    expect([p.length, q.length, r.length]).toEqual([rounds, rounds, rounds]);
    expect(performance.now() - started).toBeLessThan(35_000);
    // They did contend: some bundles waited for another's release.
    expect(waited).toBeGreaterThan(0);
  }, 60_000);

  it('grants and releases a bundle of the most slots allowed, with waiters on every slot (one txn each)', async () => {
    const names = Array.from({ length: svc.config.BUNDLE_SLOTS_MAX }, (_, i) => `t10-${i}`);
    const b = await bundle({ slots: slots(...names) });
    expect(b.status).toBe(201);
    const waiters = names.map(name => grant(name, { waitMs: 10_000 }));
    for (const name of names) {
      await expect
        .poll(async () => (await contenders(svc, name)).length, { timeout: 5000 })
        .toBe(2);
    }
    expect((await releaseBundle(b.body)).status).toBe(204);
    for (const w of await Promise.all(waiters)) expect(w.status).toBe(201);
  });

  it('gives a normal fencing token in each slot: the token check and the fenced store accept it', async () => {
    const b = await bundle({ slots: slots('t11-driver', 't11-vehicle') });
    for (const slot of ['t11-driver', 't11-vehicle']) {
      const check = await call(svc.url, 'GET', `/v1/slots/${slot}/tokens/${b.body.token}`);
      expect(check.body.current).toBe(true);
      const write = await call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/order`, {
        body: { token: b.body.token, value: 'order-7' },
        headers: { 'slotlock-secret': b.body.secret },
      });
      expect(write.status, JSON.stringify(write.body)).toBe(200);
    }
    const stranger = await call(svc.url, 'PUT', '/v1/slots/t11-driver/fenced/order', {
      body: { token: b.body.token, value: 'forged' },
      headers: { 'slotlock-secret': `b.${'x'.repeat(43)}` },
    });
    expect(stranger.status).toBe(403);
    expect((await releaseBundle(b.body)).status).toBe(204);
  });

  it('a single-slot verb cannot renew or release one member of a bundle', async () => {
    const b = await bundle({ slots: slots('t5-a', 't5-b') });
    const one = await releaseGrant('t5-a', b.body);
    expect(one.status).toBe(403);
    expect(one.body.code).toBe('not_holder');
    expect(await contenders(svc, 't5-a')).toHaveLength(1);
    expect((await releaseBundle(b.body)).status).toBe(204);
  });

  it('rejects duplicates, too many slots and a capacity that does not match the slot', async () => {
    const dup = await bundle({ slots: slots('t6-a', 't6-a') });
    expect(dup.status).toBe(400);
    expect(dup.body.code).toBe('invalid_input');
    const many = await bundle({
      slots: Array.from({ length: svc.config.BUNDLE_SLOTS_MAX + 1 }, (_, i) => ({
        slot: `t6-${i}`,
      })),
    });
    expect(many.status).toBe(400);
    const holder = await grant('t6-cap', { capacity: 2 });
    expect(holder.status).toBe(201);
    const conflict = await bundle({
      slots: [{ slot: 't6-free' }, { slot: 't6-cap', capacity: 3 }],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('capacity_conflict');
    expect(conflict.body.slot).toBe('t6-cap');
    await expect.poll(() => contenders(svc, 't6-free'), { timeout: 5000 }).toEqual([]);
    const fits = await bundle({ slots: [{ slot: 't6-free' }, { slot: 't6-cap', capacity: 2 }] });
    expect(fits.status).toBe(201);
  });

  it('a retry with the same Idempotency-Key returns the same bundle; another body is refused', async () => {
    const key = randomUUID();
    const body = { slots: slots('t7-a', 't7-b') };
    const first = await bundle(body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const again = await bundle(body, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body.token).toBe(first.body.token);
    expect(again.body.secret).toBe(first.body.secret);
    const other = await bundle({ slots: slots('t7-a', 't7-c') }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_conflict');
  });
});
