import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('slots API', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('grants a free slot with a decimal-string token, a secret and a Location', async () => {
    const r = await call(svc.url, 'POST', '/v1/slots/driver:1/grants', {
      body: { holder: 'w1', ttlSeconds: 5 },
    });
    expect(r.status).toBe(201);
    expect(r.body.token).toMatch(/^[1-9][0-9]*$/);
    expect(r.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.headers.get('location')).toBe(`/v1/slots/driver:1/grants/${r.body.token}`);
    expect(r.body.expiresInMs).toBeGreaterThan(0);
    expect(r.body.expiresInMs).toBeLessThanOrEqual(5000);
  });
});
