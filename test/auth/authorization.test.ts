/** Authorization (issue 14): each verb allowed and forbidden per name prefix; public reads. */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFiles, bearer, newApiKey, type TestKey } from '../support/auth.js';
import { call, startTestService, type TestService } from '../support/app.js';

const ops: TestKey = {
  id: 'ops',
  key: newApiKey(),
  permissions: [
    { verbs: ['acquire', 'read', 'fenced-write'], slots: ['orders/'] },
    { verbs: ['elect', 'read'], elections: ['leaders/'] },
  ],
};
const reader: TestKey = {
  id: 'reader',
  key: newApiKey(),
  permissions: [{ verbs: ['read'], slots: ['orders/'], elections: ['leaders/'] }],
};
const enc = encodeURIComponent;

describe('authorization by verb and prefix', () => {
  const files = new AuthFiles();
  let svc: TestService;
  const as = (k: TestKey, method: string, path: string, body?: unknown, extra = {}) =>
    call(svc.url, method, path, {
      headers: { ...bearer(k.key), ...extra },
      ...(body === undefined ? {} : { body }),
    });

  beforeAll(async () => {
    files.writeKeys([ops, reader]);
    svc = await startTestService({ AUTH_API_KEYS_FILE: files.keysFile });
  });
  afterAll(async () => {
    await svc.close();
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('acquire: allowed under a permitted prefix, 403 elsewhere and without the verb', async () => {
    expect(
      (await as(ops, 'POST', `/v1/slots/${enc('orders/a')}/grants`, { holder: 'h' })).status,
    ).toBe(201);
    const elsewhere = await as(ops, 'POST', `/v1/slots/${enc('misc/a')}/grants`, { holder: 'h' });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body).toMatchObject({
      code: 'forbidden',
      verb: 'acquire',
      principal: 'key:ops',
    });
    const noVerb = await as(reader, 'POST', `/v1/slots/${enc('orders/b')}/grants`, { holder: 'h' });
    expect(noVerb.status).toBe(403);
    expect((await as(ops, 'POST', '/v1/sessions', { ttlSeconds: 10 })).status).toBe(201);
    expect((await as(reader, 'POST', '/v1/sessions', { ttlSeconds: 10 })).status).toBe(403);
  });

  it('read: inspect, list, token check and leader only under permitted prefixes', async () => {
    expect((await as(reader, 'GET', `/v1/slots/${enc('orders/a')}`)).status).toBe(200);
    expect((await as(reader, 'GET', `/v1/slots/${enc('misc/a')}`)).status).toBe(403);
    expect((await as(reader, 'GET', `/v1/slots?prefix=${enc('orders/')}`)).status).toBe(200);
    expect((await as(reader, 'GET', '/v1/slots')).status).toBe(403);
    expect((await as(reader, 'GET', `/v1/slots/${enc('misc/a')}/tokens/5`)).status).toBe(403);
    expect((await as(reader, 'GET', `/v1/elections/${enc('leaders/x')}/leader`)).status).not.toBe(
      403,
    );
    expect((await as(reader, 'GET', `/v1/elections/${enc('other/x')}/leader`)).status).toBe(403);
    expect((await as(reader, 'GET', '/v1/status')).status).toBe(403);
  });

  it('elect: campaign and resign under a permitted election prefix only', async () => {
    const won = await as(ops, 'POST', `/v1/elections/${enc('leaders/x')}/campaign`, {
      candidate: 'c',
    });
    expect(won.status).toBe(201);
    expect(
      (await as(ops, 'POST', `/v1/elections/${enc('other/x')}/campaign`, { candidate: 'c' }))
        .status,
    ).toBe(403);
    expect(
      (await as(reader, 'POST', `/v1/elections/${enc('leaders/y')}/campaign`, { candidate: 'c' }))
        .status,
    ).toBe(403);
    const resign = await as(
      reader,
      'DELETE',
      `/v1/elections/${enc('leaders/x')}/leaders/${won.body.token}`,
      undefined,
      { 'slotlock-secret': won.body.secret },
    );
    expect(resign.status).toBe(403);
    const own = await as(
      ops,
      'DELETE',
      `/v1/elections/${enc('leaders/x')}/leaders/${won.body.token}`,
      undefined,
      { 'slotlock-secret': won.body.secret },
    );
    expect(own.status).toBe(204);
  });

  it('fenced-write: only with the verb on the slot, even with the holder secret', async () => {
    const g = await as(ops, 'POST', `/v1/slots/${enc('orders/f')}/grants`, { holder: 'h' });
    const secret = { 'slotlock-secret': g.body.secret };
    const path = `/v1/slots/${enc('orders/f')}/fenced/r`;
    const body = { token: g.body.token, value: 'v' };
    expect((await as(reader, 'PUT', path, body, secret)).status).toBe(403);
    expect((await as(ops, 'PUT', path, body, secret)).status).toBe(200);
    expect((await as(reader, 'GET', path)).status).toBe(200);
    expect((await as(ops, 'PUT', `/v1/slots/${enc('misc/f')}/fenced/r`, body, secret)).status).toBe(
      403,
    );
  });

  it('admin: a non-admin cannot force-release', async () => {
    const g = await as(ops, 'POST', `/v1/slots/${enc('orders/adm')}/grants`, { holder: 'h' });
    const r = await as(
      ops,
      'DELETE',
      `/v1/admin/slots/${enc('orders/adm')}/grants/${g.body.token}`,
    );
    expect(r.status).toBe(403);
    expect(r.body.verb).toBe('admin');
  });

  it('answers 401 to a request without credentials', async () => {
    const r = await call(svc.url, 'GET', `/v1/slots/${enc('orders/a')}`);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthenticated');
  });
});

describe('public reads and token checks', () => {
  const files = new AuthFiles();
  let reads: TestService;
  let checks: TestService;
  beforeAll(async () => {
    files.writeKeys([ops]);
    reads = await startTestService({
      AUTH_API_KEYS_FILE: files.keysFile,
      AUTH_PUBLIC_READS: 'true',
    });
    checks = await startTestService({
      AUTH_API_KEYS_FILE: files.keysFile,
      AUTH_PUBLIC_TOKEN_CHECKS: 'true',
    });
  });
  afterAll(async () => {
    await reads.close();
    await checks.close();
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('lets callers without credentials read when AUTH_PUBLIC_READS=true, and nothing more', async () => {
    expect((await call(reads.url, 'GET', '/v1/slots/any')).status).toBe(200);
    expect((await call(reads.url, 'GET', '/v1/slots/any/tokens/5')).status).not.toBe(401);
    const acquire = await call(reads.url, 'POST', '/v1/slots/any/grants', {
      body: { holder: 'h' },
    });
    expect(acquire.status).toBe(401);
  });

  it('lets callers without credentials check tokens only when AUTH_PUBLIC_TOKEN_CHECKS=true', async () => {
    const check = await call(checks.url, 'GET', '/v1/slots/any/tokens/5');
    expect(check.status).not.toBe(401);
    expect(check.status).not.toBe(403);
    expect((await call(checks.url, 'GET', '/v1/slots/any')).status).toBe(401);
  });
});
