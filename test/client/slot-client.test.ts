import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSlotlockError, SlotClient, SlotlockError } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { etcdEndpoints } from '../support/etcd.js';
import { keyAtToken, revokeLeaseOf } from './etcd-probe.js';
import { abortedWithin, recordingFetch, until } from './helpers.js';

describe('SlotClient', () => {
  let svc: TestService;
  let slots: SlotClient;
  const grants: { release(): Promise<void> }[] = [];

  beforeAll(async () => {
    svc = await startTestService();
    slots = new SlotClient({ url: svc.url, retry: { retries: 2, baseMs: 20 } });
  });
  afterAll(async () => {
    await Promise.allSettled(grants.map(g => g.release()));
    await svc.close();
  });

  it('acquires a grant with a decimal-string token and releases it', async () => {
    const sentAt = performance.now();
    const grant = await slots.acquire({ slot: 'round/trip', holder: 'w1', ttlSeconds: 5 });
    grants.push(grant);
    const took = performance.now() - sentAt;
    expect(grant.token).toMatch(/^[1-9][0-9]*$/);
    expect(grant).toMatchObject({ slot: 'round/trip', holder: 'w1', capacity: 1, ttlSeconds: 5 });
    expect(grant.signal.aborted).toBe(false);
    // TTL minus the 500 ms margin, counted from when the acquire was sent; the server's own
    // expiresInMs is already short of the TTL by at most the round trip.
    expect(grant.expiresInMs()).toBeLessThanOrEqual(4_500);
    expect(grant.expiresInMs()).toBeGreaterThanOrEqual(4_500 - 2 * took - 5);
    const held = await slots.inspect('round/trip');
    expect(held.holders.map(h => h.token)).toEqual([grant.token]);
    expect(await slots.check('round/trip', grant.token)).toMatchObject({ current: true });

    await grant.release();
    expect(grant.signal.aborted).toBe(true);
    expect(isSlotlockError(grant.signal.reason, 'released')).toBe(true);
    expect(grant.expiresInMs()).toBe(0);
    const after = await slots.inspect('round/trip');
    expect(after.holders).toEqual([]);
    expect(after.lastReleasedToken).toBe(grant.token);
    await grant.release(); // a second release is a no-op
  });

  it('keeps the grant alive in the background past its TTL', async () => {
    const grant = await slots.acquire({ slot: 'keepalive', holder: 'w1', ttlSeconds: 2 });
    grants.push(grant);
    const t0 = performance.now();
    // Poll the server until well past the TTL; the holder must be there at every poll.
    let polls = 0;
    await until(
      'twice the TTL to pass',
      async () => {
        const view = await slots.inspect('keepalive');
        expect(view.holders.map(h => h.token)).toEqual([grant.token]);
        polls++;
        return performance.now() - t0 > 4_000 ? true : undefined;
      },
      8_000,
      100,
    );
    expect(polls).toBeGreaterThan(10);
    expect(grant.signal.aborted).toBe(false);
    expect(grant.expiresInMs()).toBeGreaterThan(0);
    await grant.release();
  });

  it('aborts grant.signal with grant_gone when the lease disappears on the server', async () => {
    const grant = await slots.acquire({ slot: 'revoked', holder: 'w1', ttlSeconds: 3 });
    grants.push(grant);
    const revokedAt = performance.now();
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, grant.token);
    // The next keepalive (every TTL/3) learns it; allow one interval plus slack.
    const firedAt = await abortedWithin(grant.signal, 3_000);
    expect(isSlotlockError(grant.signal.reason, 'grant_gone')).toBe(true);
    expect(firedAt - revokedAt).toBeLessThan(1_000 + 500);
    await grant.release(); // already gone: resolves
  });

  it('returns the same grant when an acquire is retried with the same Idempotency-Key', async () => {
    const idempotencyKey = `same-key-${crypto.randomUUID()}`;
    const a = await slots.acquire({ slot: 'idem', holder: 'w1', ttlSeconds: 5, idempotencyKey });
    grants.push(a);
    const b = await slots.acquire({ slot: 'idem', holder: 'w1', ttlSeconds: 5, idempotencyKey });
    grants.push(b);
    expect(b.token).toBe(a.token);
    expect((await slots.inspect('idem')).holders).toHaveLength(1);
    await a.release();
    await b.release(); // the same grant: already released
  });

  it('retries an acquire whose answer was lost, with the same key, and gets the same grant', async () => {
    const rec = recordingFetch({ dropFirstAnswerTo: /^POST .*\/grants$/ });
    const client = new SlotClient({ url: svc.url, fetch: rec.fetch, retry: { baseMs: 10 } });
    const grant = await client.acquire({ slot: 'lost-answer', holder: 'w1', ttlSeconds: 5 });
    grants.push(grant);
    const posts = rec.sent.filter(s => s.method === 'POST' && s.url.endsWith('/grants'));
    expect(posts).toHaveLength(2);
    expect(posts[0]?.status).toBe(201);
    expect(posts[1]?.status).toBe(200); // the replay
    expect(posts[1]?.headers['idempotency-key']).toBe(posts[0]?.headers['idempotency-key']);
    expect((posts[0]?.headers['idempotency-key'] ?? '').length).toBeGreaterThanOrEqual(16);
    const view = await client.inspect('lost-answer');
    expect(view.holders.map(h => h.token)).toEqual([grant.token]);
    await grant.release();
  });

  it('throws typed errors with the stable code and never retries a 409', async () => {
    const rec = recordingFetch();
    const client = new SlotClient({ url: svc.url, fetch: rec.fetch, retry: { baseMs: 10 } });
    const holder = await client.acquire({ slot: 'busy', holder: 'w1', ttlSeconds: 5 });
    grants.push(holder);

    const busy = await client.acquire({ slot: 'busy', holder: 'w2' }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(SlotlockError);
    expect(busy).toMatchObject({ code: 'slot_busy', status: 409 });
    expect((busy as SlotlockError).problem?.type).toMatch(/slot_busy/);
    expect((busy as SlotlockError).retryAfterS).toBeGreaterThanOrEqual(1);

    const timedOut = await client
      .acquire({ slot: 'busy', holder: 'w2', waitMs: 200 })
      .catch((e: unknown) => e);
    expect(isSlotlockError(timedOut, 'wait_timeout')).toBe(true);
    const posts = rec.sent.filter(s => s.method === 'POST' && s.url.endsWith('/busy/grants'));
    expect(posts).toHaveLength(3);

    const bad = await client.acquire({ slot: 'no spaces', holder: 'w2' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'invalid_input', status: 400 });
    await holder.release();
  });

  it('reports an unreachable server as code unreachable with status 0', async () => {
    const client = new SlotClient({ url: 'http://127.0.0.1:9', retry: { retries: 0 } });
    const err = await client.inspect('x').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable', status: 0 });
  });

  it('releases the grant after withSlot, even when the callback throws', async () => {
    const seen: string[] = [];
    const failed = await slots
      .withSlot({ slot: 'with-slot', holder: 'w1', ttlSeconds: 5 }, async grant => {
        seen.push(grant.token);
        expect((await slots.inspect('with-slot')).holders).toHaveLength(1);
        throw new Error('dispatch failed');
      })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ message: 'dispatch failed' });
    expect(seen).toHaveLength(1);
    expect((await slots.inspect('with-slot')).holders).toEqual([]);
    const token = await slots.withSlot({ slot: 'with-slot', holder: 'w1' }, g =>
      Promise.resolve(g.token),
    );
    expect(BigInt(token)).toBeGreaterThan(BigInt(seen[0] ?? '0'));
  });

  it('takes grants under a session, and ending the session ends them', async () => {
    const session = await slots.createSession({ ttlSeconds: 5 });
    const grant = await slots.acquire({ slot: 'sessioned', holder: 'w1', session });
    grants.push(grant);
    expect(grant.session).toBe(true);
    await session.end();
    expect(isSlotlockError(session.signal.reason, 'released')).toBe(true);
    await abortedWithin(grant.signal, 3_000);
    expect(isSlotlockError(grant.signal.reason, 'grant_gone')).toBe(true);
    expect((await slots.inspect('sessioned')).holders).toEqual([]);
  });
});

describe('Grant when the server becomes unreachable', () => {
  it('aborts its signal before the server-side lease can expire', async () => {
    const svc = await startTestService();
    const etcd = new Etcd3({ hosts: etcdEndpoints() });
    try {
      const rec = recordingFetch();
      const client = new SlotClient({ url: svc.url, fetch: rec.fetch, retry: { retries: 1 } });
      const ttlMs = 2_000;
      const grant = await client.acquire({ slot: 'partition', holder: 'w1', ttlSeconds: 2 });
      const okKeepalives = () =>
        rec.sent.filter(s => s.url.endsWith('/keepalive') && s.status === 200);
      // Let at least one background keepalive succeed, then take the server away.
      await until('a keepalive to succeed', () => (okKeepalives().length > 0 ? true : undefined));
      await svc.close();
      const closedAt = performance.now();

      const firedAt = await abortedWithin(grant.signal, ttlMs + 1_000);
      expect(isSlotlockError(grant.signal.reason, 'deadline_passed')).toBe(true);
      const lastOk = okKeepalives().at(-1);
      if (lastOk === undefined) throw new Error('no successful keepalive recorded');
      const sinceLastOkSend = firedAt - lastOk.sentAt;
      // The server extended the lease to a full TTL no earlier than that send, so the lease can
      // expire no earlier than lastOk.sentAt + TTL: the signal fired before that, with the margin.
      expect(sinceLastOkSend).toBeLessThan(ttlMs);
      expect(sinceLastOkSend).toBeGreaterThanOrEqual(ttlMs - 250 - 150);
      // And etcd agrees: the key still exists on an unexpired lease (TTL is whole seconds,
      // rounded down, -1 once expired) when the holder gave up.
      const still = await keyAtToken(etcd, svc.config.ETCD_PREFIX, grant.token);
      expect(still).toBeDefined();
      expect(still?.ttlS).toBeGreaterThanOrEqual(0);
      const failedAfterClose = rec.sent.filter(s => s.failed === true && s.sentAt >= closedAt);
      expect(failedAfterClose.length).toBeGreaterThan(0);
      console.info(
        `[unreachable] signal fired ${Math.round(sinceLastOkSend)} ms after the last confirmed ` +
          `keepalive was sent (TTL ${ttlMs} ms, margin ${ttlMs - Math.round(sinceLastOkSend)} ms ` +
          `left), ${Math.round(firedAt - closedAt)} ms after the server closed, ` +
          `${failedAfterClose.length} failed keepalive attempts`,
      );
      await grant.release().catch((e: unknown) => {
        expect(isSlotlockError(e, 'unreachable')).toBe(true);
      });
    } finally {
      await svc.close();
      etcd.close();
    }
  });
});
