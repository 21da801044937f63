import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretFromIdempotencyKey } from '../../../src/domain/secrets.js';
import { call, startTestService, type TestService } from '../../support/app.js';
import { pollValue } from '../../support/poll.js';

/** Lock-delay against Idempotency-Key replays and cancels (issue 13, item 6). */
describe('lock-delay with retries and cancels', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ LOCK_DELAY_MAX_MS: '10000' });
  });
  afterAll(async () => {
    await svc.close();
  });
  const acquire = (slot: string, body: Record<string, unknown>, key?: string) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ...body },
      headers: key === undefined ? {} : { 'idempotency-key': key },
      timeoutMs: 30_000,
    });
  const delayKeys = async (slot: string) =>
    svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#d/`).keys();

  it('does not answer a waiter’s retry as a grant while lock-delay still closes the slot', async () => {
    const slot = `ldr-${randomUUID().slice(0, 8)}`;
    const first = await acquire(slot, { ttlSeconds: 2, lockDelayMs: 4000 });
    expect(first.status).toBe(201);
    const key = randomUUID();
    const waiting = acquire(slot, { ttlSeconds: 10, lockDelayMs: 4000, waitMs: 20_000 }, key);
    // The holder expires without releasing: its delay key still closes the place for 4 s.
    const closed = await pollValue(
      () => call(svc.url, 'GET', `/v1/slots/${slot}`),
      r => r.body.holders.length === 0 && r.body.blockedByLockDelay === 1,
      8000,
    );
    expect(closed.body.blockedByLockDelay).toBe(1);
    const retry = await acquire(slot, { ttlSeconds: 10, lockDelayMs: 4000, waitMs: 20_000 }, key);
    expect(await delayKeys(slot)).toHaveLength(1);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('acquire_in_progress');
    // Once the delay is over, the waiter itself is granted.
    const granted = await waiting;
    expect(granted.status).toBe(201);
  }, 30_000);

  it('opens the slot at once when the holder is cancelled by its Idempotency-Key', async () => {
    const slot = `ldc-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const held = await acquire(slot, { ttlSeconds: 10, lockDelayMs: 8000 }, key);
    expect(held.status).toBe(201);
    expect(await delayKeys(slot)).toHaveLength(1);
    const cancel = await call(svc.url, 'DELETE', `/v1/slots/${slot}/queue`, {
      headers: { 'idempotency-key': key },
    });
    expect(cancel.status).toBe(204);
    expect(await delayKeys(slot)).toHaveLength(0);
    const next = await acquire(slot, { ttlSeconds: 10, lockDelayMs: 8000 });
    expect(next.status).toBe(201);
  });

  it('refuses a fenced write by a contender whose place is still closed by lock-delay', async () => {
    const slot = `ldf-${randomUUID().slice(0, 8)}`;
    const first = await acquire(slot, { ttlSeconds: 2, lockDelayMs: 4000 });
    expect(first.status).toBe(201);
    const key = randomUUID();
    const waiting = acquire(slot, { ttlSeconds: 10, lockDelayMs: 4000, waitMs: 20_000 }, key);
    const closed = await pollValue(
      () => call(svc.url, 'GET', `/v1/slots/${slot}`),
      r => r.body.holders.length === 0 && r.body.blockedByLockDelay === 1,
      8000,
    );
    expect(closed.body.blockedByLockDelay).toBe(1);
    // The waiter is first in the queue but not granted: its token and secret must not write.
    const queued = await call(svc.url, 'GET', `/v1/slots/${slot}/queue`, {
      headers: { 'idempotency-key': key },
    });
    expect(queued.body.position).toBe(0);
    // Neither the queue view nor the token check calls it a holder yet.
    expect(queued.body.holding).toBe(false);
    const check = await call(svc.url, 'GET', `/v1/slots/${slot}/tokens/${queued.body.token}`);
    expect(check.body.current).toBe(false);
    const write = await call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/rec`, {
      body: { token: queued.body.token, value: 'early' },
      headers: { 'slotlock-secret': secretFromIdempotencyKey(key, slot) },
    });
    expect(await delayKeys(slot)).toHaveLength(1);
    expect(write.status).toBe(403);
    expect(write.body.code).toBe('not_holder');
    expect((await waiting).status).toBe(201);
  }, 30_000);
});
