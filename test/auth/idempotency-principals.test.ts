/** Idempotency-Keys are bound to the principal that used them (issue 14). */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthFiles, bearer, newApiKey, type TestKey } from '../support/auth.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { pollValue } from '../support/poll.js';

const everywhere = [{ verbs: ['acquire' as const, 'read' as const], slots: [''] }];
const alice: TestKey = { id: 'alice', key: newApiKey(), permissions: everywhere };
const bob: TestKey = { id: 'bob', key: newApiKey(), permissions: everywhere };

describe('Idempotency-Key across principals', () => {
  const files = new AuthFiles();
  let svc: TestService;
  beforeAll(async () => {
    files.writeKeys([alice, bob]);
    svc = await startTestService({ AUTH_API_KEYS_FILE: files.keysFile });
  });
  afterAll(async () => {
    await svc.close();
    rmSync(files.dir, { recursive: true, force: true });
  });

  const acquire = (who: TestKey, slot: string, key: string, waitMs = 0) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'same-body', waitMs },
      headers: { ...bearer(who.key), 'idempotency-key': key },
    });

  it("never hands one principal's grant or secret to another replaying the same key", async () => {
    const key = 'shared-key-0123456789abcdef';
    const first = await acquire(alice, 'idem-a', key);
    expect(first.status).toBe(201);
    const replay = await acquire(alice, 'idem-a', key);
    expect(replay.status).toBe(200);
    expect(replay.body.secret).toBe(first.body.secret);
    const other = await acquire(bob, 'idem-a', key);
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('slot_busy');
    expect(JSON.stringify(other.body)).not.toContain(first.body.secret);
  });

  it('lets only the same principal see or withdraw the acquire made with its key', async () => {
    const key = 'queue-key-0123456789abcdef';
    const holder = await call(svc.url, 'POST', '/v1/slots/idem-q/grants', {
      body: { holder: 'first' },
      headers: bearer(bob.key),
    });
    expect(holder.status).toBe(201);
    const waiting = acquire(alice, 'idem-q', key, 15_000);
    const headers = (who: TestKey) => ({ ...bearer(who.key), 'idempotency-key': key });
    const position = await pollValue(
      () => call(svc.url, 'GET', '/v1/slots/idem-q/queue', { headers: headers(alice) }),
      r => r.status === 200,
      10_000,
    );
    expect(position.status).toBe(200);
    expect(
      (await call(svc.url, 'GET', '/v1/slots/idem-q/queue', { headers: headers(bob) })).status,
    ).toBe(404);
    expect(
      (await call(svc.url, 'DELETE', '/v1/slots/idem-q/queue', { headers: headers(bob) })).status,
    ).toBe(404);
    expect(
      (await call(svc.url, 'DELETE', '/v1/slots/idem-q/queue', { headers: headers(alice) })).status,
    ).toBe(204);
    const withdrawn = await waiting;
    expect(withdrawn.status).toBe(409);
    expect(withdrawn.body.code).toBe('wait_cancelled');
  });
});
