/** Authentication (issue 14): API keys and JWTs accepted and rejected; the holder secret header. */
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFiles, AUDIENCE, bearer, ISSUER, newApiKey, type TestKey } from '../support/auth.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { eventually } from '../support/poll.js';

const dispatcher: TestKey = {
  id: 'dispatcher',
  key: newApiKey(),
  permissions: [{ verbs: ['acquire', 'read'], slots: ['orders/'] }],
};

describe('authentication', () => {
  const files = new AuthFiles();
  let svc: TestService;

  beforeAll(async () => {
    files.writeKeys([dispatcher]);
    await files.writeJwks();
    svc = await startTestService(files.env());
  });
  afterAll(async () => {
    await svc.close();
    rmSync(files.dir, { recursive: true, force: true });
  });

  const acquire = (slot: string, headers: Record<string, string>) =>
    call(svc.url, 'POST', `/v1/slots/${encodeURIComponent(slot)}/grants`, {
      body: { holder: 'h' },
      headers,
    });

  it('accepts a listed API key and rejects a wrong one or none with 401 and WWW-Authenticate', async () => {
    const ok = await acquire('orders/1', bearer(dispatcher.key));
    expect(ok.status).toBe(201);
    const wrong = await acquire('orders/2', bearer(newApiKey()));
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('unauthenticated');
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="slotlock"');
    const none = await acquire('orders/3', {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const basic = await acquire('orders/4', { authorization: 'Basic dXNlcjpwYXNz' });
    expect(basic.status).toBe(401);
  });

  it('accepts a valid JWT and takes the principal and permissions from its claims', async () => {
    const token = await files.jwt('svc-a', [{ verbs: ['acquire'], slots: ['jobs/'] }]);
    expect((await acquire('jobs/1', bearer(token))).status).toBe(201);
    const other = await acquire('orders/9', bearer(token));
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: 'forbidden', principal: 'jwt:svc-a' });
  });

  it('rejects an expired JWT, a wrong audience, a wrong issuer and a bad signature', async () => {
    const perms = [{ verbs: ['acquire' as const], slots: [''] }];
    const now = Math.floor(Date.now() / 1000);
    const expired = await files.jwt('svc-a', perms, { exp: now - 60 });
    const audience = await files.jwt('svc-a', perms, { aud: `${AUDIENCE}-other` });
    const issuer = await files.jwt('svc-a', perms, { iss: 'https://evil.invalid/' });
    const valid = await files.jwt('svc-a', perms);
    const tampered = `${valid.slice(0, -4)}${valid.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    for (const token of [expired, audience, issuer, tampered]) {
      const r = await acquire('any/1', bearer(token));
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('unauthenticated');
    }
  });

  it('tolerates the configured clock skew on expiry', async () => {
    const perms = [{ verbs: ['acquire' as const], slots: [''] }];
    const justExpired = await files.jwt('svc-a', perms, { exp: Math.floor(Date.now() / 1000) - 1 });
    expect((await acquire('skew/1', bearer(justExpired))).status).toBe(201);
  });

  it('reloads the API key file without a restart', async () => {
    const late: TestKey = { id: 'late', key: newApiKey(), permissions: dispatcher.permissions };
    expect((await acquire('orders/late-0', bearer(late.key))).status).toBe(401);
    files.writeKeys([dispatcher, late]);
    let n = 0;
    const accepted = await eventually(
      async () => (await acquire(`orders/late-${++n}`, bearer(late.key))).status === 201,
      10_000,
      50,
    );
    expect(accepted).toBe(true);
    files.writeKeys([late]);
    const revoked = await eventually(
      async () => (await acquire(`orders/rev-${++n}`, bearer(dispatcher.key))).status === 401,
      10_000,
      50,
    );
    expect(revoked).toBe(true);
    files.writeKeys([dispatcher]);
    const restored = await eventually(
      async () => (await acquire(`orders/back-${++n}`, bearer(dispatcher.key))).status === 201,
      10_000,
      50,
    );
    expect(restored).toBe(true);
  });

  it('takes the holder secret from Slotlock-Secret and never from Authorization when auth is on', async () => {
    const g = await acquire('orders/secret', bearer(dispatcher.key));
    expect(g.status).toBe(201);
    const path = `/v1/slots/${encodeURIComponent('orders/secret')}/grants/${g.body.token}`;
    const missing = await call(svc.url, 'POST', `${path}/keepalive`, {
      headers: bearer(dispatcher.key),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].pointer).toBe('/headers/slotlock-secret');
    const kept = await call(svc.url, 'POST', `${path}/keepalive`, {
      headers: { ...bearer(dispatcher.key), 'slotlock-secret': `Bearer ${g.body.secret}` },
    });
    expect(kept.status).toBe(200);
    const released = await call(svc.url, 'DELETE', path, {
      headers: { ...bearer(dispatcher.key), 'slotlock-secret': g.body.secret },
    });
    expect(released.status).toBe(204);
  });
});

describe('authentication off', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('accepts the holder secret in Slotlock-Secret, and in Authorization: Bearer from old clients', async () => {
    for (const header of ['slotlock-secret', 'authorization'] as const) {
      const g = await call(svc.url, 'POST', '/v1/slots/legacy/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(201);
      const value = header === 'authorization' ? `Bearer ${g.body.secret}` : g.body.secret;
      const r = await call(svc.url, 'DELETE', `/v1/slots/legacy/grants/${g.body.token}`, {
        headers: { [header]: value },
      });
      expect(r.status).toBe(204);
    }
  });
});

describe('JWKS from a URL', () => {
  const files = new AuthFiles();
  let jwks: Server;
  let fetches = 0;
  let svc: TestService;
  beforeAll(async () => {
    await files.writeJwks();
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(readFileSync(files.jwksFile));
    });
    await new Promise<void>(resolve => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    svc = await startTestService({
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
    });
  });
  afterAll(async () => {
    await svc.close();
    jwks.closeAllConnections();
    await new Promise<void>(resolve => {
      jwks.close(() => {
        resolve();
      });
    });
    rmSync(files.dir, { recursive: true, force: true });
  });

  it('verifies JWTs against keys fetched from the URL, fetching them once', async () => {
    const token = await files.jwt('svc-url', [{ verbs: ['acquire'], slots: [''] }]);
    for (const slot of ['url-1', 'url-2']) {
      const r = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
        body: { holder: 'h' },
        headers: bearer(token),
      });
      expect(r.status).toBe(201);
    }
    expect(fetches).toBe(1);
    const expired = await files.jwt('svc-url', [{ verbs: ['acquire'], slots: [''] }], {
      exp: Math.floor(Date.now() / 1000) - 600,
    });
    const r = await call(svc.url, 'POST', '/v1/slots/url-3/grants', {
      body: { holder: 'h' },
      headers: bearer(expired),
    });
    expect(r.status).toBe(401);
  });
});
