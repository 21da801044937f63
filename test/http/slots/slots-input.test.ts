import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, etcdCalls, startTestService, type TestService } from '../../support/app.js';

describe('slot API input validation', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ TTL_MAX_S: '60', WAIT_MAX_MS: '30000', CAPACITY_MAX: '100' });
  });
  afterAll(async () => {
    await svc.close();
  });

  const cases: {
    name: string;
    path: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    status: number;
    code: string;
    pointer?: string;
  }[] = [
    {
      name: 'a slot name with a space',
      path: '/v1/slots/bad%20name/grants',
      body: { holder: 'h' },
      status: 400,
      code: 'invalid_input',
      pointer: '/params/slot',
    },
    {
      name: 'a slot name over 256 bytes',
      path: `/v1/slots/${'a'.repeat(257)}/grants`,
      body: { holder: 'h' },
      status: 400,
      code: 'invalid_input',
      pointer: '/params/slot',
    },
    {
      name: 'a TTL below the minimum',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', ttlSeconds: 1 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/ttlSeconds',
    },
    {
      name: 'a TTL above the maximum',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', ttlSeconds: 61 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/ttlSeconds',
    },
    {
      name: 'a fractional TTL',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', ttlSeconds: 2.5 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/ttlSeconds',
    },
    {
      name: 'capacity 0',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', capacity: 0 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/capacity',
    },
    {
      name: 'an absurd capacity',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', capacity: 1e9 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/capacity',
    },
    {
      name: 'a wait beyond the cap',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', waitMs: 30_001 },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/waitMs',
    },
    {
      name: 'Prefer: wait beyond the cap',
      path: '/v1/slots/s/grants',
      body: { holder: 'h' },
      headers: { prefer: 'wait=31' },
      status: 400,
      code: 'invalid_input',
      pointer: '/headers/prefer',
    },
    {
      name: 'an unknown field',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', owner: 'x' },
      status: 400,
      code: 'invalid_input',
      pointer: '/body/owner',
    },
    {
      name: 'a missing holder',
      path: '/v1/slots/s/grants',
      body: {},
      status: 400,
      code: 'invalid_input',
      pointer: '/body/holder',
    },
    {
      name: 'a short Idempotency-Key',
      path: '/v1/slots/s/grants',
      body: { holder: 'h' },
      headers: { 'idempotency-key': 'abc' },
      status: 400,
      code: 'invalid_input',
      pointer: '/headers/idempotency-key',
    },
    {
      name: 'a malformed session token',
      path: '/v1/slots/s/grants',
      body: { holder: 'h', session: 'xyz' },
      status: 400,
      code: 'invalid_input',
      pointer: '/session',
    },
    {
      name: 'malformed JSON',
      path: '/v1/slots/s/grants',
      raw: '{"holder":',
      status: 400,
      code: 'invalid_input',
    },
    {
      name: 'an oversize body',
      path: '/v1/slots/s/grants',
      raw: JSON.stringify({ holder: 'h', pad: 'x'.repeat(20_000) }),
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'a JSON body that is a bare string, not an object',
      path: '/v1/slots/s/grants',
      raw: '"holder"',
      status: 400,
      code: 'invalid_input',
    },
    {
      name: 'a JSON body in a charset other than UTF-8',
      path: '/v1/slots/s/grants',
      raw: JSON.stringify({ holder: 'h' }),
      headers: { 'content-type': 'application/json; charset=iso-8859-1' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'a compressed JSON body',
      path: '/v1/slots/s/grants',
      raw: JSON.stringify({ holder: 'h' }),
      headers: { 'content-encoding': 'gzip' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'a non-JSON body',
      path: '/v1/slots/s/grants',
      raw: 'holder=h',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'unsupported_media_type',
    },
  ];

  for (const c of cases) {
    it(`answers ${c.status} ${c.code} for ${c.name} and creates nothing`, async () => {
      const r = await call(svc.url, 'POST', c.path, {
        body: c.raw ?? c.body,
        headers: {
          ...(c.raw === undefined ? {} : { 'content-type': 'application/json' }),
          ...c.headers,
        },
      });
      expect(r.status).toBe(c.status);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({
        status: c.status,
        code: c.code,
        type: `urn:slotlock:problem:${c.code}`,
      });
      expect(typeof r.body.detail).toBe('string');
      if (c.pointer !== undefined) {
        expect(r.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(c.pointer);
      }
      const keys = await svc.client.getAll().prefix(svc.config.ETCD_PREFIX).keys();
      expect(keys).toEqual([]);
      expect(await etcdCalls(svc, 'lease_grant')).toBe(0);
      expect(await etcdCalls(svc, 'txn')).toBe(0);
    });
  }

  it('answers 400 for a malformed token in a path', async () => {
    for (const token of ['abc', '0', '-1', '99999999999999999999']) {
      const r = await call(svc.url, 'DELETE', `/v1/slots/s/grants/${token}`, {
        headers: { 'slotlock-secret': 'x' },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('invalid_input');
    }
  });

  it('answers 400 when the holder secret is missing, and 404 problem+json for an unknown route', async () => {
    const r = await call(svc.url, 'POST', '/v1/slots/s/grants/5/keepalive');
    expect(r.status).toBe(400);
    expect(r.body.errors[0].pointer).toBe('/headers/slotlock-secret');
    const nf = await call(svc.url, 'GET', '/v2/nothing');
    expect(nf.status).toBe(404);
    expect(nf.body).toMatchObject({ code: 'not_found', type: 'urn:slotlock:problem:not_found' });
  });

  it('echoes an incoming X-Request-Id and puts it in problem instances', async () => {
    const r = await call(svc.url, 'GET', '/nope', { headers: { 'x-request-id': 'req-123' } });
    expect(r.headers.get('x-request-id')).toBe('req-123');
    expect(r.body.instance).toBe('urn:slotlock:request:req-123');
  });
});
