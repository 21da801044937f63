/** Admin (issue 14): force-release a stuck grant and end a leadership, with an audit line. */
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFiles, bearer, newApiKey, type TestKey } from '../support/auth.js';
import { call, startTestService, type TestService } from '../support/app.js';

const worker: TestKey = {
  id: 'worker',
  key: newApiKey(),
  permissions: [
    { verbs: ['acquire'], slots: ['orders/'] },
    { verbs: ['elect', 'read'], elections: ['dispatch/'] },
  ],
};
const admin: TestKey = {
  id: 'oncall',
  key: newApiKey(),
  permissions: [{ verbs: ['admin'], slots: ['orders/'], elections: ['dispatch/'] }],
};
const enc = encodeURIComponent;

describe('admin force-release', () => {
  const files = new AuthFiles();
  const lines: Record<string, unknown>[] = [];
  let svc: TestService;

  beforeAll(async () => {
    files.writeKeys([worker, admin]);
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    svc = await startTestService({ AUTH_API_KEYS_FILE: files.keysFile }, { log });
  });
  afterAll(async () => {
    await svc.close();
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('releases a stuck holder with a long TTL, hands the slot to the waiter and logs who did it', async () => {
    const slot = enc('orders/stuck');
    const held = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'stuck-worker', ttlSeconds: 300 },
      headers: bearer(worker.key),
    });
    expect(held.status).toBe(201);
    const waiting = call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'next', waitMs: 15_000 },
      headers: bearer(worker.key),
    });
    const forced = await call(
      svc.url,
      'DELETE',
      `/v1/admin/slots/${slot}/grants/${held.body.token}`,
      {
        headers: { ...bearer(admin.key), 'x-request-id': 'req-force-1' },
      },
    );
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({
      slot: 'orders/stuck',
      token: held.body.token,
      holder: 'stuck-worker',
    });
    const next = await waiting;
    expect(next.status).toBe(201);
    expect(BigInt(next.body.token)).toBeGreaterThan(BigInt(held.body.token));
    const old = await call(
      svc.url,
      'POST',
      `/v1/slots/${slot}/grants/${held.body.token}/keepalive`,
      {
        headers: { ...bearer(worker.key), 'slotlock-secret': held.body.secret },
      },
    );
    expect(old.status).toBe(410);
    const again = await call(
      svc.url,
      'DELETE',
      `/v1/admin/slots/${slot}/grants/${held.body.token}`,
      {
        headers: bearer(admin.key),
      },
    );
    expect(again.status).toBe(410);

    const audit = lines.filter(l => l.audit === true);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'force-release',
      principal: 'key:oncall',
      via: 'api-key',
      requestId: 'req-force-1',
      target: { slot: 'orders/stuck', token: held.body.token, holder: 'stuck-worker' },
    });
    expect(Date.parse(String(audit[0]?.at))).toBeGreaterThan(Date.now() - 60_000);
  });

  it('ends a leadership and the next candidate is promoted', async () => {
    const name = enc('dispatch/eu');
    const first = await call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
      body: { candidate: 'a', ttlSeconds: 300 },
      headers: bearer(worker.key),
    });
    expect(first.status).toBe(201);
    const second = call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
      body: { candidate: 'b', waitMs: 15_000 },
      headers: bearer(worker.key),
    });
    const ended = await call(
      svc.url,
      'DELETE',
      `/v1/admin/elections/${name}/leaders/${first.body.token}`,
      {
        headers: bearer(admin.key),
      },
    );
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ election: 'dispatch/eu', candidate: 'a' });
    const promoted = await second;
    expect(promoted.status).toBe(201);
    expect(promoted.body.candidate).toBe('b');
    expect(lines.some(l => l.audit === true && l.action === 'end-leadership')).toBe(true);
  });
});
