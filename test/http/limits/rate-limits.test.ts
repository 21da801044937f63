/**
 * Request rate limits: per principal and per replica, 429 `rate_limited` problem+json with
 * Retry-After and the IETF RateLimit / RateLimit-Policy headers; probes are never limited.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { principalRateLimit, replicaRateLimit } from '../../../src/http/limits/rate-limits.js';
import { DomainError } from '../../../src/domain/errors.js';
import { problemHandler } from '../../../src/http/problem.js';
import { call, startTestService, type TestService } from '../../support/app.js';

async function refusals(svc: TestService, limit: string): Promise<number> {
  const m = await svc.services.metrics.limitRefusals.get();
  return m.values.find(v => v.labels.limit === limit)?.value ?? 0;
}

describe('rate limits on the real service', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({
      RATE_LIMIT_PRINCIPAL: '5',
      RATE_LIMIT_REPLICA: '0',
      RATE_LIMIT_WINDOW_S: '60',
    });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('answers 429 rate_limited with Retry-After and RateLimit headers past the principal limit', async () => {
    for (let i = 0; i < 5; i++) {
      const ok = await call(svc.url, 'GET', `/v1/slots/rl-${i}/tokens/1`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit')).toMatch(new RegExp(`^"principal"; r=${4 - i}; t=\\d+$`));
      expect(ok.headers.get('ratelimit-policy')).toMatch(/^"principal"; q=5; w=60; pk=:.+:$/);
    }
    const over = await call(svc.url, 'POST', '/v1/slots/rl-x/grants', {
      body: { holder: 'h', ttlSeconds: 10 },
    });
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(over.body).toMatchObject({
      code: 'rate_limited',
      status: 429,
      scope: 'principal',
      limit: 5,
    });
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(over.headers.get('ratelimit')).toMatch(/^"principal"; r=0; t=\d+$/);
    expect(await refusals(svc, 'rate_principal')).toBe(1);
    // Nothing was written: the refused acquire never reached etcd.
    const slot = await svc.services.store.range({ prefix: svc.services.keys.slots });
    expect(slot.kvs.filter(kv => kv.key.includes('rl-x'))).toEqual([]);
    // Probes and metrics are not limited.
    expect((await call(svc.url, 'GET', '/livez')).status).toBe(200);
    expect((await call(svc.url, 'GET', '/metrics')).status).toBe(200);
  });
});

describe('rate limit middleware: principals and the replica', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>(resolve =>
        s.close(() => {
          resolve();
        }),
      );
    }
  });

  /** A tiny app behind the limits whose principal comes from an `x-test-principal` header. */
  async function serve(env: Record<string, string>): Promise<string> {
    const app = express();
    const config = loadConfig(env);
    // As in app.ts: the replica's limit, authentication, the principal's limit.
    app.use(replicaRateLimit(config));
    app.use((req, res, next) => {
      if (req.headers['x-test-bad-credential'] !== undefined) {
        next(new DomainError('unauthenticated', 'bad credential'));
        return;
      }
      const id = req.headers['x-test-principal'];
      if (typeof id === 'string') res.locals.principal = { id };
      next();
    });
    app.use(principalRateLimit(config));
    app.get('/v1/ping', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(problemHandler);
    const server = createServer(app);
    servers.push(server);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const get = (url: string, principal: string) =>
    call(url, 'GET', '/v1/ping', { headers: { 'x-test-principal': principal } });

  it('counts each principal separately', async () => {
    const url = await serve({
      RATE_LIMIT_PRINCIPAL: '2',
      RATE_LIMIT_REPLICA: '0',
      RATE_LIMIT_WINDOW_S: '30',
    });
    expect((await get(url, 'alice')).status).toBe(200);
    expect((await get(url, 'alice')).status).toBe(200);
    const refused = await get(url, 'alice');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'rate_limited', scope: 'principal' });
    // Bob's budget is his own.
    const bob = await get(url, 'bob');
    expect(bob.status).toBe(200);
    expect(bob.headers.get('ratelimit')).toBe(
      `"principal"; r=1; t=${bob.headers.get('ratelimit')?.split('t=')[1]}`,
    );
  });

  it('caps the whole replica across principals, with both policies in the headers', async () => {
    const url = await serve({
      RATE_LIMIT_PRINCIPAL: '100',
      RATE_LIMIT_REPLICA: '3',
      RATE_LIMIT_WINDOW_S: '30',
    });
    const first = await get(url, 'a');
    expect(first.status).toBe(200);
    // An accepted request carries both policies, one item each.
    const policy = first.headers.get('ratelimit-policy') ?? '';
    expect(policy).toMatch(/"replica"; q=3; w=30/);
    expect(policy).toMatch(/"principal"; q=100; w=30/);
    expect(first.headers.get('ratelimit')).toMatch(
      /"replica"; r=2; t=\d+, "principal"; r=99; t=\d+/,
    );
    for (const who of ['b', 'c']) expect((await get(url, who)).status).toBe(200);
    const refused = await get(url, 'd');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'rate_limited', scope: 'replica', limit: 3 });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit')).toMatch(/^"replica"; r=0; t=\d+$/);
  });

  it('counts requests refused for bad credentials against the replica', async () => {
    const url = await serve({
      RATE_LIMIT_PRINCIPAL: '100',
      RATE_LIMIT_REPLICA: '2',
      RATE_LIMIT_WINDOW_S: '30',
    });
    for (let i = 0; i < 2; i++) {
      const bad = await call(url, 'GET', '/v1/ping', { headers: { 'x-test-bad-credential': '1' } });
      expect(bad.status).toBe(401);
    }
    const flooded = await call(url, 'GET', '/v1/ping', {
      headers: { 'x-test-bad-credential': '1' },
    });
    expect(flooded.status).toBe(429);
    expect(flooded.body).toMatchObject({ code: 'rate_limited', scope: 'replica' });
  });

  it('is off with a limit of 0', async () => {
    const url = await serve({ RATE_LIMIT_PRINCIPAL: '0', RATE_LIMIT_REPLICA: '0' });
    for (let i = 0; i < 20; i++) expect((await get(url, 'a')).status).toBe(200);
  });
});
