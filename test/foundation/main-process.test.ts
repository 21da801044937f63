import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { call } from '../support/app.js';
import { alive, startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { Etcd3 } from 'etcd3';
import { eventually } from '../support/poll.js';

const running: ServiceProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const p of running) await p.stop(2000);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the service process', () => {
  it('exits 1 with a readable message naming the variable when the config is invalid', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', ETCD_ENDPOINTS: 'http://127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PORT: .*\(got "eighty"\)/);
  });

  it('starts an embedded etcd without ETCD_ENDPOINTS, keeps its data across a restart, and stops it on exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slotlock-embedded-'));
    dirs.push(dir);
    const env = { ETCD_DATA_DIR: join(dir, 'etcd'), ETCD_ENDPOINTS: '' };
    const first = await startServiceProcess(env);
    running.push(first);
    expect(first.started.msg).toMatch(/etcd at http:\/\/127\.0\.0\.1:\d+ \(embedded, data in /);
    const etcdPid = first.started.etcdPid as number;
    expect(alive(etcdPid)).toBe(true);
    const g = await call(first.url, 'POST', '/v1/slots/persist/grants', {
      body: { holder: 'h', ttlSeconds: 60 },
    });
    expect(g.status).toBe(201);
    expect(await first.stop()).toBe(0);
    expect(alive(etcdPid)).toBe(false);
    expect((await stat(join(dir, 'etcd', 'member-data'))).isDirectory()).toBe(true);

    const second = await startServiceProcess(env);
    running.push(second);
    // Same data dir: the grant (60 s lease) and the revision counter survived the restart.
    const view = await call(second.url, 'GET', '/v1/slots/persist');
    expect(view.body.holders.map((h: { token: string }) => h.token)).toEqual([g.body.token]);
    const next = await call(second.url, 'POST', '/v1/slots/other/grants', {
      body: { holder: 'h' },
    });
    expect(BigInt(next.body.token)).toBeGreaterThan(BigInt(g.body.token));
    const pid2 = second.started.etcdPid as number;
    expect(await second.stop()).toBe(0);
    expect(alive(pid2)).toBe(false);
  }, 90_000);

  it('drains on SIGTERM: readiness 503, long-polls end with 503, holders keep their leases', async () => {
    const prefix = uniquePrefix('drain');
    const svc = await startServiceProcess({
      ETCD_ENDPOINTS: etcdEndpoints().join(','),
      ETCD_PREFIX: prefix,
      SHUTDOWN_GRACE_MS: '5000',
    });
    running.push(svc);
    const held = await call(svc.url, 'POST', '/v1/slots/d/grants', {
      body: { holder: 'h', ttlSeconds: 30 },
    });
    expect(held.status).toBe(201);
    const waiting = call(svc.url, 'POST', '/v1/slots/d/grants', {
      body: { holder: 'w', waitMs: 25_000 },
    });
    const client = new Etcd3({ hosts: etcdEndpoints() });
    try {
      const queued = async () =>
        (await client.getAll().prefix(`${prefix}s/d#h/`).keys()).length === 2;
      expect(await eventually(queued, 5000)).toBe(true);
      const t0 = performance.now();
      svc.child.kill('SIGTERM');
      const r = await waiting;
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('draining');
      expect(performance.now() - t0).toBeLessThan(3000);
      expect(await svc.exited).toBe(0);
      // The holder's lease was not revoked by the shutdown; the waiter's was removed.
      const kvs = await client.getAll().prefix(`${prefix}s/d#h/`).exec();
      expect(kvs.kvs).toHaveLength(1);
      const ttl = await client.leaseClient.leaseTimeToLive({ ID: kvs.kvs[0]!.lease });
      expect(Number(ttl.TTL)).toBeGreaterThan(20);
    } finally {
      client.close();
    }
  }, 60_000);
});
