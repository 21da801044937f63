/**
 * A retried acquire or campaign (same Idempotency-Key) of a grant that is already held is not a
 * new grant: at the quota it is answered with the replayed grant, not 429. Its grant is counted
 * already; refusing it would leave a client that lost the first answer unable to learn its token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('retries at the quota', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '1', QUOTA_ELECTIONS: '1', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('replays a held grant for its Idempotency-Key, and still refuses a new one', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { holder: 'h', ttlSeconds: 30 };
    const first = await call(svc.url, 'POST', '/v1/slots/qt-1/grants', { body, headers });
    expect(first.status).toBe(201);
    const retry = await call(svc.url, 'POST', '/v1/slots/qt-1/grants', { body, headers });
    expect(retry.status).toBe(200);
    expect(retry.body.token).toBe(first.body.token);
    const other = await call(svc.url, 'POST', '/v1/slots/qt-2/grants', { body });
    expect(other.status).toBe(429);
    const otherKey = await call(svc.url, 'POST', '/v1/slots/qt-1/grants', {
      body,
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(otherKey.status).toBe(429);
  });

  it('replays a held term for its Idempotency-Key', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { candidate: 'c', ttlSeconds: 30 };
    const first = await call(svc.url, 'POST', '/v1/elections/qt-e/campaign', { body, headers });
    expect(first.status).toBe(201);
    const retry = await call(svc.url, 'POST', '/v1/elections/qt-e/campaign', { body, headers });
    expect(retry.status).toBe(200);
    expect(retry.body.token).toBe(first.body.token);
  });
});
