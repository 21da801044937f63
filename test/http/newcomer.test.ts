import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../support/app.js';

// What a newcomer trips over (issue 15): each answer here is what the README promises.
let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc.close();
});

describe('answers a newcomer reads', () => {
  it('answers a wrong method on a known path with 405 method_not_allowed and Allow', async () => {
    const r = await call(svc.url, 'PUT', '/v1/slots/nc:a/grants', { body: { holder: 'h' } });
    expect(r.status).toBe(405);
    expect(r.body.code).toBe('method_not_allowed');
    expect(r.headers.get('allow')).toBe('POST');
    const slot = await call(svc.url, 'POST', '/v1/slots/nc:a');
    expect(slot.status).toBe(405);
    expect(slot.headers.get('allow')).toBe('GET, HEAD');
    const unknown = await call(svc.url, 'GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
  });

  it('puts urn:slotlock:request:<id> in instance, with the id of X-Request-Id', async () => {
    const r = await call(svc.url, 'GET', '/v1/slots/bad%20name');
    expect(r.status).toBe(400);
    const id = r.headers.get('x-request-id');
    expect(id).toBeTruthy();
    expect(r.body.instance).toBe(`urn:slotlock:request:${id ?? ''}`);
  });

  it('says a missing field is required', async () => {
    const r = await call(svc.url, 'POST', '/v1/slots/nc:b/grants', { body: { ttlSeconds: 5 } });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ pointer: '/body/holder', detail: 'is required' }]);
    expect(r.body.detail).toBe('/body/holder: is required');
    const campaign = await call(svc.url, 'POST', '/v1/elections/nc-e/campaign', { body: {} });
    expect(campaign.body.errors).toEqual([{ pointer: '/body/candidate', detail: 'is required' }]);
    const fenced = await call(svc.url, 'PUT', '/v1/slots/nc:b/fenced/r', {
      body: { token: '5' },
      headers: { 'slotlock-secret': 'abc' },
    });
    expect(fenced.body.errors).toEqual([{ pointer: '/body/value', detail: 'is required' }]);
  });

  it('says a secret sent without its scheme lacks the scheme, not that it is missing', async () => {
    const g = await call(svc.url, 'POST', '/v1/slots/nc:c/grants', { body: { holder: 'h' } });
    const { token, secret } = g.body as { token: string; secret: string };
    const r = await call(svc.url, 'POST', `/v1/slots/nc:c/grants/${token}/keepalive`, {
      headers: { authorization: secret },
    });
    expect(r.status).toBe(400);
    expect(r.body.detail).not.toMatch(/missing/);
    expect(r.body.detail).toMatch(/scheme/);
    expect(r.body.errors[0].pointer).toBe('/headers/authorization');
    const bad = await call(svc.url, 'POST', `/v1/slots/nc:c/grants/${token}/keepalive`, {
      headers: { 'slotlock-secret': 'not a secret!' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/malformed/);
    const lower = await call(svc.url, 'POST', `/v1/slots/nc:c/grants/${token}/keepalive`, {
      headers: { authorization: `bearer ${secret}` },
    });
    expect(lower.status).toBe(200);
  });

  it('never answers 413 or 415 to an operation that takes no body', async () => {
    const g = await call(svc.url, 'POST', '/v1/slots/nc:d/grants', { body: { holder: 'h' } });
    const { token, secret } = g.body as { token: string; secret: string };
    const path = `/v1/slots/nc:d/grants/${token}/keepalive`;
    const big = await call(svc.url, 'POST', path, {
      body: { pad: 'x'.repeat(20 * 1024) },
      headers: { 'slotlock-secret': secret },
    });
    expect(big.status).toBe(200);
    const text = await call(svc.url, 'POST', path, {
      body: 'hello',
      headers: { 'content-type': 'text/plain', 'slotlock-secret': secret },
    });
    expect(text.status).toBe(200);
  });
});

describe('grants under a session', () => {
  it('report the TTL of the session lease they live on, not the one they asked for', async () => {
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 10 } });
    const { session } = s.body as { session: string };
    const g = await call(svc.url, 'POST', '/v1/slots/nc:s/grants', {
      body: { holder: 'h', ttlSeconds: 15, session },
    });
    expect(g.status).toBe(201);
    expect(g.body.ttlSeconds).toBe(10);
    expect(g.body.expiresInMs).toBeLessThanOrEqual(10_000);
    // Another replica that never saw the session learns its TTL from etcd.
    const other = await startTestService({ ETCD_PREFIX: svc.config.ETCD_PREFIX });
    try {
      const g2 = await call(other.url, 'POST', '/v1/slots/nc:s2/grants', {
        body: { holder: 'h', session },
      });
      expect(g2.body.ttlSeconds).toBe(10);
    } finally {
      await other.close();
    }
  });

  it('report it for a bundle under the session too', async () => {
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 10 } });
    const { session } = s.body as { session: string };
    const b = await call(svc.url, 'POST', '/v1/bundles', {
      body: { holder: 'h', ttlSeconds: 15, session, slots: [{ slot: 'nc:b1' }, { slot: 'nc:b2' }] },
    });
    expect(b.status).toBe(201);
    expect(b.body.ttlSeconds).toBe(10);
  });

  it('GET /v1/sessions/{id} answers the TTL and time left without the secret; 410 once ended', async () => {
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 12 } });
    const { session, id } = s.body as { session: string; id: string };
    const r = await call(svc.url, 'GET', `/v1/sessions/${id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id, ttlSeconds: 12, expiresInMs: expect.any(Number) });
    expect(r.body.expiresInMs).toBeGreaterThan(9000);
    expect(r.body.expiresInMs).toBeLessThanOrEqual(12_000);
    await call(svc.url, 'DELETE', `/v1/sessions/${id}`, {
      headers: { 'slotlock-secret': session },
    });
    const gone = await call(svc.url, 'GET', `/v1/sessions/${id}`);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('session_gone');
  });

  it('GET /v1/sessions/{id} does not describe a lease that is not a session', async () => {
    const g = await call(svc.url, 'POST', '/v1/slots/nc:l/grants', { body: { holder: 'h' } });
    expect(g.status).toBe(201);
    const leases = await svc.client.leaseClient.leaseLeases({});
    const ids = leases.leases.map(l => BigInt(l.ID).toString(16));
    expect(ids.length).toBeGreaterThan(0);
    const r = await call(svc.url, 'GET', `/v1/sessions/${ids[ids.length - 1] ?? ''}`);
    expect(r.status).toBe(410);
  });
});
