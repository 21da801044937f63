import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/app.js';
import { checkedCalls, firstSseEvent } from '../support/checked-calls.js';
import { OpenApiResponses } from '../support/openapi-responses.js';
import { eventually } from '../support/poll.js';

// Every response below is validated against the committed openapi.json with ajv (2020-12).
const spec = OpenApiResponses.load();
let svc: TestService;
const http = checkedCalls(spec, () => svc.url);
const secret = (s: string) => ({ 'slotlock-secret': s });
const big = { holder: 'h', pad: 'x'.repeat(20 * 1024) };

beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc.close();
});

describe('responses against the published openapi.json', () => {
  it('slots: acquire, replay, keepalive, inspect, list, token check, release and their problems', async () => {
    const key = randomUUID();
    const g = await http('POST', '/v1/slots/conf:a/grants', {
      body: { holder: 'h1', ttlSeconds: 10 },
      headers: { 'idempotency-key': key },
    });
    expect(g.status).toBe(201);
    const { token, secret: s } = g.body as { token: string; secret: string };
    const again = await http('POST', '/v1/slots/conf:a/grants', {
      body: { holder: 'h1', ttlSeconds: 10 },
      headers: { 'idempotency-key': key },
    });
    expect(again.status).toBe(200);
    const differs = await http('POST', '/v1/slots/conf:a/grants', {
      body: { holder: 'h2', ttlSeconds: 10 },
      headers: { 'idempotency-key': key },
    });
    expect(differs.status).toBe(422);
    expect((await http('POST', '/v1/slots/conf:a/grants', { body: { holder: 'h2' } })).status).toBe(
      409,
    );
    const conflict = await http('POST', '/v1/slots/conf:a/grants', {
      body: { holder: 'h2', capacity: 2 },
    });
    expect(conflict.body).toMatchObject({ code: 'capacity_conflict', capacity: 1 });
    const timeout = await http('POST', '/v1/slots/conf:a/grants', {
      body: { holder: 'h2', waitMs: 50 },
    });
    expect(timeout.body.code).toBe('wait_timeout');
    expect((await http('POST', '/v1/slots/conf:a/grants', { body: {} })).status).toBe(400);
    expect((await http('POST', '/v1/slots/conf:a/grants', { body: big })).status).toBe(413);
    const text = await http('POST', '/v1/slots/conf:a/grants', {
      body: 'holder=h',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);

    const grant = `/v1/slots/conf:a/grants/${token}`;
    expect((await http('POST', `${grant}/keepalive`, { headers: secret(s) })).status).toBe(200);
    // An operation without a body ignores one: no 413/415 it does not document.
    const ignored = await http('POST', `${grant}/keepalive`, { headers: secret(s), body: big });
    expect(ignored.status).toBe(200);
    expect((await http('POST', `${grant}/keepalive`, { headers: secret('nope') })).status).toBe(
      403,
    );
    expect((await http('GET', '/v1/slots/conf:a')).status).toBe(200);
    expect((await http('GET', '/v1/slots?prefix=conf:')).status).toBe(200);
    expect((await http('GET', '/v1/slots?limit=0')).status).toBe(400);
    expect((await http('GET', `/v1/slots/conf:a/tokens/${token}`)).status).toBe(200);
    expect((await http('DELETE', grant, { headers: secret(s) })).status).toBe(204);
    expect((await http('DELETE', grant, { headers: secret(s) })).status).toBe(410);
    expect((await http('POST', `${grant}/keepalive`, { headers: secret(s) })).status).toBe(410);
  });

  it('slots: queue position, cancel, acquire in progress', async () => {
    const holder = await http('POST', '/v1/slots/conf:q/grants', { body: { holder: 'h' } });
    const key = randomUUID();
    const body = { holder: 'w', waitMs: 20_000 };
    const waiting = http('POST', '/v1/slots/conf:q/grants', {
      body,
      headers: { 'idempotency-key': key },
    });
    const queued = async () =>
      (await http('GET', '/v1/slots/conf:q/queue', { headers: { 'idempotency-key': key } }))
        .status === 200;
    expect(await eventually(queued, 5000)).toBe(true);
    const dup = await http('POST', '/v1/slots/conf:q/grants', {
      body,
      headers: { 'idempotency-key': key },
    });
    expect(dup.body.code).toBe('acquire_in_progress');
    const cancel = await http('DELETE', '/v1/slots/conf:q/queue', {
      headers: { 'idempotency-key': key },
    });
    expect(cancel.status).toBe(204);
    expect((await waiting).body.code).toBe('wait_cancelled');
    expect((await http('GET', '/v1/slots/conf:q/queue')).status).toBe(400);
    const gone = await http('GET', '/v1/slots/conf:q/queue', {
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(gone.status).toBe(404);
    const h = holder.body as { token: string; secret: string };
    await http('DELETE', `/v1/slots/conf:q/grants/${h.token}`, { headers: secret(h.secret) });
  });

  it('sessions: create, read, keepalive, a grant under it, end', async () => {
    const created = await http('POST', '/v1/sessions', { body: { ttlSeconds: 10 } });
    expect(created.status).toBe(201);
    const { session, id } = created.body as { session: string; id: string };
    expect((await http('GET', `/v1/sessions/${id}`)).status).toBe(200);
    expect(
      (await http('POST', `/v1/sessions/${id}/keepalive`, { headers: secret(session) })).status,
    ).toBe(200);
    const g = await http('POST', '/v1/slots/conf:s/grants', { body: { holder: 'h', session } });
    expect(g.status).toBe(201);
    expect((await http('DELETE', `/v1/sessions/${id}`, { headers: secret(session) })).status).toBe(
      204,
    );
    expect((await http('DELETE', `/v1/sessions/${id}`, { headers: secret(session) })).status).toBe(
      410,
    );
    expect((await http('GET', `/v1/sessions/${id}`)).status).toBe(410);
    expect((await http('GET', '/v1/sessions/not-hex')).status).toBe(400);
    const late = await http('POST', '/v1/slots/conf:s/grants', { body: { holder: 'h', session } });
    expect(late.body.code).toBe('session_gone');
  });

  it('elections: campaign, leader, observe events, keepalive, proclaim, resign', async () => {
    const c = await http('POST', '/v1/elections/conf-e/campaign', {
      body: { candidate: 'a', value: 'v' },
    });
    expect(c.status).toBe(201);
    const { token, secret: s } = c.body as { token: string; secret: string };
    const other = await http('POST', '/v1/elections/conf-e/campaign', { body: { candidate: 'b' } });
    expect(other.body.code).toBe('not_leader');
    const waited = await http('POST', '/v1/elections/conf-e/campaign', {
      body: { candidate: 'b', waitMs: 50 },
    });
    expect(waited.body.code).toBe('wait_timeout');
    expect((await http('GET', '/v1/elections/conf-e/leader')).status).toBe(200);
    const observePath = '/v1/elections/conf-e/observe';
    const event = await firstSseEvent(`${svc.url}${observePath}`, 'leader');
    expect(event.status).toBe(200);
    spec.check({
      method: 'GET',
      path: observePath,
      status: 200,
      contentType: event.contentType,
      body: undefined,
    });
    spec.checkEvent('GET', observePath, 'leader', event.data);

    const term = `/v1/elections/conf-e/leaders/${token}`;
    expect((await http('POST', `${term}/keepalive`, { headers: secret(s) })).status).toBe(200);
    expect(
      (await http('PUT', `${term}/value`, { body: { value: 'w' }, headers: secret(s) })).status,
    ).toBe(200);
    const wrong = await http('PUT', `${term}/value`, {
      body: { value: 'x' },
      headers: secret('no'),
    });
    expect(wrong.status).toBe(403);
    expect((await http('DELETE', term, { headers: secret(s) })).status).toBe(204);
    expect((await http('DELETE', term, { headers: secret(s) })).status).toBe(410);
  });

  it('fencing: fenced write, stale write, read, stale report', async () => {
    const slot = 'conf:f';
    const first = await http('POST', `/v1/slots/${slot}/grants`, { body: { holder: 'a' } });
    const a = first.body as { token: string; secret: string };
    await http('DELETE', `/v1/slots/${slot}/grants/${a.token}`, { headers: secret(a.secret) });
    const second = await http('POST', `/v1/slots/${slot}/grants`, { body: { holder: 'b' } });
    const b = second.body as { token: string; secret: string };
    const write = (t: string, s: string) =>
      http('PUT', `/v1/slots/${slot}/fenced/cursor`, {
        body: { token: t, value: `by ${t}` },
        headers: secret(s),
      });
    expect((await write(b.token, b.secret)).status).toBe(200);
    const stale = await write(a.token, a.secret);
    expect(stale.body).toMatchObject({ code: 'stale_token', winningToken: b.token });
    expect((await http('GET', `/v1/slots/${slot}/fenced/cursor`)).status).toBe(200);
    expect((await http('GET', `/v1/slots/${slot}/fenced/none`)).status).toBe(404);
    const removed = await http('DELETE', `/v1/slots/${slot}/fenced/cursor?token=${b.token}`, {
      headers: secret(b.secret),
    });
    expect(removed.status).toBe(204);
    expect((await http('GET', `/v1/slots/${slot}/fenced/cursor`)).status).toBe(404);
    const report = await http('POST', `/v1/slots/${slot}/stale-reports`, {
      body: { token: a.token, highestSeen: b.token, resource: 'orders-db' },
    });
    expect(report.status).toBe(202);
  });

  it('bundles: acquire, busy, keepalive, release', async () => {
    const body = { holder: 'h', slots: [{ slot: 'conf:b1' }, { slot: 'conf:b2' }] };
    const b = await http('POST', '/v1/bundles', { body });
    expect(b.status).toBe(201);
    const { token, secret: s } = b.body as { token: string; secret: string };
    expect((await http('POST', '/v1/bundles', { body })).status).toBe(409);
    expect(
      (await http('POST', `/v1/bundles/${token}/keepalive`, { headers: secret(s) })).status,
    ).toBe(200);
    expect((await http('DELETE', `/v1/bundles/${token}`, { headers: secret(s) })).status).toBe(204);
    expect((await http('DELETE', `/v1/bundles/${token}`, { headers: secret(s) })).status).toBe(410);
  });

  it('admin: force-release a grant and end a leadership', async () => {
    const g = await http('POST', '/v1/slots/conf:adm/grants', { body: { holder: 'stuck' } });
    const grant = `/v1/admin/slots/conf:adm/grants/${(g.body as { token: string }).token}`;
    expect((await http('DELETE', grant)).status).toBe(200);
    expect((await http('DELETE', grant)).status).toBe(410);
    const c = await http('POST', '/v1/elections/conf-adm/campaign', { body: { candidate: 'x' } });
    const term = `/v1/admin/elections/conf-adm/leaders/${(c.body as { token: string }).token}`;
    expect((await http('DELETE', term)).status).toBe(200);
  });

  it('health, metrics and the status report', async () => {
    expect((await http('GET', '/livez')).status).toBe(200);
    expect((await http('GET', '/readyz')).status).toBe(200);
    expect((await http('GET', '/metrics')).status).toBe(200);
    expect((await http('GET', '/v1/status')).status).toBe(200);
  });

  it('a wrong method on a known path: 405 with Allow', async () => {
    const r = await http('PUT', '/v1/slots/conf:a/grants', { body: { holder: 'h' } });
    expect(r.status).toBe(405);
  });

  it('draining: readiness and operations answer 503', async () => {
    const other = await startTestService({ ETCD_PREFIX: svc.config.ETCD_PREFIX });
    try {
      other.services.lifecycle.beginDrain();
      const drained = checkedCalls(spec, () => other.url);
      expect((await drained('GET', '/readyz')).status).toBe(503);
      const r = await drained('POST', '/v1/slots/conf:d/grants', {
        body: { holder: 'h', waitMs: 1000 },
      });
      expect(r.body.code).toBe('draining');
    } finally {
      await other.close();
    }
  });

  it('covered a success status of every operation', () => {
    const ops = new Set(spec.declared().map(d => d.split(' ')[0]));
    const succeeded = new Set(
      [...spec.covered].filter(c => /^\S+ 2\d\d$/.test(c)).map(c => c.split(' ')[0]),
    );
    expect(
      [...ops].filter(op => !succeeded.has(op)),
      'operations of openapi.json no call above answered with a 2xx: add a call for each here',
    ).toEqual([]);
  });
});
