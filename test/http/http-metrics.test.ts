/**
 * HTTP request metrics from real traffic: counted by route template (never a raw path), method
 * and status class, so a 503 from a read such as `GET leader` during an etcd outage shows up in
 * the availability SLI. Also the build info and grants-held gauges.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { call, startTestService, type TestService } from '../support/app.js';

interface Sample {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

describe('HTTP request metrics', () => {
  let dir: string;
  let member: EtcdMember;
  let svc: TestService;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-http-metrics-'));
    member = await startEtcdMember({ name: 'http-metrics', dataDir: join(dir, 'etcd') });
    svc = await startTestService(
      { ETCD_CALL_TIMEOUT_MS: '500', READINESS_TIMEOUT_MS: '300' },
      { endpoints: [member.clientUrl] },
    );
  });
  afterAll(async () => {
    member.resume();
    await svc.close();
    await member.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const requests = async (): Promise<Sample[]> =>
    (await svc.services.metrics.httpRequests.get()).values;
  const count = async (route: string, method: string, statusClass: string) =>
    (await requests()).find(
      s =>
        s.labels.route === route &&
        s.labels.method === method &&
        s.labels.status_class === statusClass,
    )?.value ?? 0;
  const until = async (check: () => Promise<boolean>, timeoutMs = 5000) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error('condition not met in time');
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  };

  it('counts requests by route template, method and status class, never by raw path', async () => {
    const grants = '/v1/slots/:slot/grants';
    const granted = await call(svc.url, 'POST', '/v1/slots/zone-7%2Fdriver-42/grants', {
      body: { holder: 'h1', ttlSeconds: 30 },
    });
    expect(granted.status).toBe(201);
    const busy = await call(svc.url, 'POST', '/v1/slots/zone-7%2Fdriver-42/grants', {
      body: { holder: 'h2', ttlSeconds: 30 },
    });
    expect(busy.status).toBe(409);
    expect((await call(svc.url, 'GET', '/no/such/path')).status).toBe(404);
    // Static files under a mount path count under the mount, not one series per file.
    expect((await call(svc.url, 'GET', '/docs/swagger-ui.css')).status).toBe(200);
    // Counted when the response closes, a moment after the client has it.
    await until(async () => (await count(grants, 'POST', '4xx')) === 1);
    expect(await count(grants, 'POST', '2xx')).toBe(1);
    expect(await count('unmatched', 'GET', '4xx')).toBe(1);
    await until(async () => (await count('/docs/*', 'GET', '2xx')) === 1);
    const routes = new Set((await requests()).map(s => String(s.labels.route)));
    for (const route of routes) expect(route).not.toMatch(/driver-42|no\/such/);
    const durations = (await svc.services.metrics.httpDuration.get()).values as Sample[];
    const timed = durations.find(
      s =>
        s.metricName === 'slotlock_http_request_duration_seconds_count' &&
        s.labels.route === grants &&
        s.labels.status_class === '2xx',
    );
    expect(timed?.value).toBe(1);
  });

  it('counts a 503 from GET leader during an etcd outage as a 5xx of its route', async () => {
    const route = '/v1/elections/:name/leader';
    expect((await call(svc.url, 'GET', '/v1/elections/e1/leader')).status).toBe(200);
    await member.pause();
    try {
      const r = await call(svc.url, 'GET', '/v1/elections/e1/leader');
      expect(r.status).toBe(503);
    } finally {
      member.resume();
    }
    await until(async () => (await count(route, 'GET', '5xx')) === 1);
    expect(await count(route, 'GET', '2xx')).toBe(1);
  });

  it('exports build info and the grants this replica holds', async () => {
    const info = (await svc.services.metrics.buildInfo.get()).values;
    expect(info).toHaveLength(1);
    expect(info[0]?.value).toBe(1);
    expect(info[0]?.labels.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(String(info[0]?.labels.commit)).not.toBe('');
    const held = async () => (await svc.services.metrics.grantsHeld.get()).values[0]?.value;
    // The grant of the first test is still held (30 s TTL).
    const before = await held();
    const g = await call(svc.url, 'POST', '/v1/slots/held-gauge/grants', {
      body: { holder: 'h', ttlSeconds: 30 },
    });
    expect(g.status).toBe(201);
    expect(await held()).toBe((before ?? 0) + 1);
    const body = g.body as { token: string; secret: string };
    const released = await call(svc.url, 'DELETE', `/v1/slots/held-gauge/grants/${body.token}`, {
      headers: { 'slotlock-secret': body.secret },
    });
    expect(released.status).toBe(204);
    await until(async () => (await held()) === before);
  });
});
