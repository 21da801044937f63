/**
 * Defects found by bad-input probing (issue 14): a malformed percent-encoding in a path, the status
 * page's CSP header, the fenced-write route matched by substring, and a token check of a
 * never-issued token counted as a stale write.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../support/app.js';

/** The holder secret in the new header and in the old one (accepted while auth is off). */
function holderSecret(secret: string): Record<string, string> {
  return { 'slotlock-secret': secret, authorization: `Bearer ${secret}` };
}

/** A GET with the path sent byte for byte (fetch would normalise a bad escape). */
function rawGet(url: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'GET', timeout: 10_000 }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('bad-input defects', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  async function staleChecks(): Promise<number> {
    const m = await svc.services.metrics.staleTokens.get();
    return m.values.filter(v => v.labels.source === 'check').reduce((a, v) => a + v.value, 0);
  }

  for (const path of ['/v1/slots/a%ZZ', '/v1/slots/%C3%28', '/v1/slots/x%E0%A4%A/tokens/5']) {
    it(`answers 400 invalid_input to a malformed percent-encoding (${path})`, async () => {
      const r = await rawGet(svc.url, path);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'invalid_input', status: 400 });
      expect(r.body.detail).not.toMatch(/at .*\.js/);
    });
  }

  it('sends the status page with its Content-Security-Policy header', async () => {
    const r = await fetch(`${svc.url}/`, { signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(200);
    await r.text();
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });

  it('proclaims in an election named "fenced" (the fenced-write parser is not matched by substring)', async () => {
    const c = await call(svc.url, 'POST', '/v1/elections/fenced/campaign', {
      body: { candidate: 'w1', ttlSeconds: 30 },
    });
    expect(c.status).toBe(201);
    const p = await call(svc.url, 'PUT', `/v1/elections/fenced/leaders/${c.body.token}/value`, {
      body: { value: 'v2' },
      headers: holderSecret(c.body.secret),
    });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ election: 'fenced', value: 'v2' });
    await call(svc.url, 'DELETE', `/v1/elections/fenced/leaders/${c.body.token}`, {
      headers: holderSecret(c.body.secret),
    });
  });

  it('does not count a token check of a never-issued token as a stale token', async () => {
    const before = await staleChecks();
    // A slot nobody ever held, a token far above anything etcd has handed out.
    const fresh = await call(svc.url, 'GET', '/v1/slots/never-held/tokens/12345');
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ current: false, highestToken: null });
    // A held slot, a token above its holder's: never issued yet either.
    const g = await call(svc.url, 'POST', '/v1/slots/probed/grants', {
      body: { holder: 'h', ttlSeconds: 30 },
    });
    expect(g.status).toBe(201);
    const above = (BigInt(g.body.token) + 1000n).toString();
    const ahead = await call(svc.url, 'GET', `/v1/slots/probed/tokens/${above}`);
    expect(ahead.body).toMatchObject({ current: false, highestToken: g.body.token });
    expect(await staleChecks()).toBe(before);
    // A superseded token still counts: released, then re-acquired with a higher one.
    await call(svc.url, 'DELETE', `/v1/slots/probed/grants/${g.body.token}`, {
      headers: holderSecret(g.body.secret),
    });
    const g2 = await call(svc.url, 'POST', '/v1/slots/probed/grants', {
      body: { holder: 'h2', ttlSeconds: 30 },
    });
    expect(g2.status).toBe(201);
    const old = await call(svc.url, 'GET', `/v1/slots/probed/tokens/${g.body.token}`);
    expect(old.body).toMatchObject({ current: false, highestToken: g2.body.token });
    expect(await staleChecks()).toBe(before + 1);
    await call(svc.url, 'DELETE', `/v1/slots/probed/grants/${g2.body.token}`, {
      headers: holderSecret(g2.body.secret),
    });
  });
});
