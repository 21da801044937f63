import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/poll.js';

describe('behaviour while etcd is unreachable', () => {
  let dir: string;
  let member: EtcdMember;
  let svc: TestService;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-outage-'));
    member = await startEtcdMember({ name: 'outage', dataDir: join(dir, 'etcd') });
    svc = await startTestService(
      { ETCD_CALL_TIMEOUT_MS: '1000', READINESS_TIMEOUT_MS: '500' },
      {
        endpoints: [member.clientUrl],
      },
    );
  });
  afterAll(async () => {
    await svc.close();
    await member.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps /livez at 200, turns /readyz 503 within 2 s, answers grants with a fast 503, and recovers', async () => {
    expect((await call(svc.url, 'GET', '/readyz')).status).toBe(200);
    await member.pause();
    try {
      const t0 = performance.now();
      const ready = await call(svc.url, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(ready.headers.get('retry-after')).toBe('1');
      expect((await call(svc.url, 'GET', '/livez')).status).toBe(200);
      const t1 = performance.now();
      const grant = await call(svc.url, 'POST', '/v1/slots/o1/grants', { body: { holder: 'h' } });
      expect(grant.status).toBe(503);
      expect(grant.body.code).toBe('etcd_unavailable');
      expect(grant.headers.get('retry-after')).toBe('1');
      expect(performance.now() - t1).toBeLessThan(3000);
    } finally {
      member.resume();
    }
    expect(
      await eventually(async () => (await call(svc.url, 'GET', '/readyz')).status === 200, 10_000),
    ).toBe(true);
  });

  it('answers a waiter 503 quickly when etcd stops mid-wait, and leaves no key behind once etcd is back', async () => {
    const holder = await call(svc.url, 'POST', '/v1/slots/o2/grants', {
      body: { holder: 'a', ttlSeconds: 30 },
    });
    expect(holder.status).toBe(201);
    const waiting = call(svc.url, 'POST', '/v1/slots/o2/grants', {
      body: { holder: 'b', ttlSeconds: 2, waitMs: 20_000 },
    });
    const queued = async () => (await call(svc.url, 'GET', '/v1/slots/o2')).body?.waiting === 1;
    expect(await eventually(queued, 5000)).toBe(true);
    await member.stop();
    const t0 = performance.now();
    const r = await waiting;
    expect(r.status, JSON.stringify(r.body)).toBe(503);
    expect(r.body.code).toBe('etcd_unavailable');
    expect(performance.now() - t0).toBeLessThan(5000);
    member = await member.restart();
    // The waiter's 2 s lease is no longer kept alive: once etcd is back its key expires, or the
    // cleanup removes it; only the holder's key remains.
    const onlyHolder = async () => {
      const keys = await svc.client.getAll().prefix(`${svc.services.keys.slots}o2#h/`).keys();
      return keys.length === 1;
    };
    expect(await eventually(onlyHolder, 15_000, 50)).toBe(true);
  }, 40_000);
});

describe('two service instances on one etcd', () => {
  it('share all state: a grant taken on one is visible, renewable and releasable on the other', async () => {
    const a = await startTestService();
    const b = await startTestService({ ETCD_PREFIX: a.config.ETCD_PREFIX });
    try {
      const g = await call(a.url, 'POST', '/v1/slots/shared/grants', {
        body: { holder: 'x', ttlSeconds: 5 },
      });
      expect(g.status).toBe(201);
      const seen = await call(b.url, 'GET', '/v1/slots/shared');
      expect(seen.body.holders.map((h: { token: string }) => h.token)).toEqual([g.body.token]);
      const waiter = call(b.url, 'POST', '/v1/slots/shared/grants', {
        body: { holder: 'y', waitMs: 10_000 },
      });
      const auth = { 'slotlock-secret': g.body.secret };
      const kept = await call(b.url, 'POST', `/v1/slots/shared/grants/${g.body.token}/keepalive`, {
        headers: auth,
      });
      expect(kept.status).toBe(200);
      expect(
        (await call(b.url, 'DELETE', `/v1/slots/shared/grants/${g.body.token}`, { headers: auth }))
          .status,
      ).toBe(204);
      const w = await waiter;
      expect(w.status).toBe(201);
      expect(BigInt(w.body.token)).toBeGreaterThan(BigInt(g.body.token));
      const onA = await call(a.url, 'GET', `/v1/slots/shared/tokens/${w.body.token}`);
      expect(onA.body.current).toBe(true);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
