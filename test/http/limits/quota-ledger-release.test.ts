/**
 * A session grant's quota ledger key goes in the release's own transaction (issue 17): the release
 * of a session grant is ONE etcd txn, and the principal's ledger is empty when the 204 arrives.
 * Grants released by another principal, and grants whose record names a ledger key the old way
 * (a random name), still lose their ledger key, by the background delete.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, etcdCalls, startTestService, type TestService } from '../../support/app.js';

const secret = (s: string) => ({ 'slotlock-secret': s });

describe('session grant release and its quota ledger key', () => {
  let svc: TestService;
  let ledger: string;
  let session: string;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '100', TTL_MAX_S: '60' });
    ledger = svc.services.quotas.ledgerPrefix('grants', 'anonymous');
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    expect(s.status).toBe(201);
    session = s.body.session as string;
  });
  afterAll(async () => {
    await svc.close();
  });

  /** Ledger keys of the anonymous principal, read with the raw client (no service counters). */
  const ledgerKeys = async () => Object.keys(await svc.client.getAll().prefix(ledger).strings());
  /** Waits until no background cleanup job is running, so txn counts are settled. */
  const settled = () => expect.poll(() => svc.services.cleanup.pending, { timeout: 5000 }).toBe(0);

  async function acquire(slot: string) {
    const g = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ttlSeconds: 30, session },
    });
    expect(g.status).toBe(201);
    expect(await ledgerKeys()).toHaveLength(1);
    return g.body as { token: string; secret: string };
  }

  it('releases in one txn and leaves no ledger key behind at the 204', async () => {
    for (let i = 0; i < 3; i++) {
      const g = await acquire(`lr-${i}`);
      await settled();
      const txnsBefore = await etcdCalls(svc, 'txn');
      const r = await call(svc.url, 'DELETE', `/v1/slots/lr-${i}/grants/${g.token}`, {
        headers: secret(g.secret),
      });
      expect(r.status).toBe(204);
      // No waiting for background cleanup: the ledger key went with the grant.
      expect(await ledgerKeys()).toEqual([]);
      await settled();
      expect((await etcdCalls(svc, 'txn')) - txnsBefore).toBe(1);
    }
  });

  it('hands over to a waiter on this replica in one txn, its ledger key alone left', async () => {
    const held = await acquire('lr-handover');
    const waiting = call(svc.url, 'POST', '/v1/slots/lr-handover/grants', {
      body: { holder: 'w', ttlSeconds: 30, session, waitMs: 15_000 },
    });
    await expect.poll(async () => (await ledgerKeys()).length, { timeout: 5000 }).toBe(2);
    await settled();
    const txnsBefore = await etcdCalls(svc, 'txn');
    const r = await call(svc.url, 'DELETE', `/v1/slots/lr-handover/grants/${held.token}`, {
      headers: secret(held.secret),
    });
    expect(r.status).toBe(204);
    const next = await waiting;
    expect(next.status).toBe(201);
    expect(await ledgerKeys()).toHaveLength(1);
    await settled();
    // The release txn also read the new head: the waiter was served from it.
    expect((await etcdCalls(svc, 'txn')) - txnsBefore).toBe(1);
    const r2 = await call(svc.url, 'DELETE', `/v1/slots/lr-handover/grants/${next.body.token}`, {
      headers: secret(next.body.secret),
    });
    expect(r2.status).toBe(204);
    expect(await ledgerKeys()).toEqual([]);
  });

  it('keeps one ledger key per live grant across replays and reuses of an Idempotency-Key', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { holder: 'h', ttlSeconds: 30, session };
    for (let round = 0; round < 2; round++) {
      const g = await call(svc.url, 'POST', '/v1/slots/lr-idem/grants', { body, headers });
      expect(g.status).toBe(201);
      const again = await call(svc.url, 'POST', '/v1/slots/lr-idem/grants', { body, headers });
      expect(again.status).toBe(200);
      expect(again.body.token).toBe(g.body.token);
      expect(await ledgerKeys()).toHaveLength(1);
      const r = await call(svc.url, 'DELETE', `/v1/slots/lr-idem/grants/${g.body.token}`, {
        headers: secret(g.body.secret),
      });
      expect(r.status).toBe(204);
      expect(await ledgerKeys()).toEqual([]);
    }
  });

  it('still deletes the ledger key of a grant released by another principal', async () => {
    const g = await acquire('lr-other');
    const otherPrefix = svc.services.quotas.ledgerPrefix('grants', 'someone-else');
    await svc.services.semaphore.release('lr-other', g.token, g.secret, {
      ledgerPrefix: otherPrefix,
    });
    await expect.poll(ledgerKeys, { timeout: 5000 }).toEqual([]);
  });

  it('still deletes a ledger key named the old way (random, recorded in the holder record)', async () => {
    const g = await acquire('lr-old');
    // Rewrite the grant as an older replica's acquire transaction wrote it: its key, and a random
    // ledger key named in its record, put together (the token is that transaction's revision).
    const contenders = await svc.client
      .getAll()
      .prefix(`${svc.services.keys.slots}lr-old#h/`)
      .exec();
    const kv = contenders.kvs[0];
    if (kv === undefined) throw new Error('no contender key');
    const contender = kv.key.toString();
    const lease = kv.lease;
    const oldName = `${ledger}${randomUUID()}`;
    const record = JSON.parse(kv.value.toString()) as Record<string, unknown>;
    await svc.client.delete().prefix(ledger);
    await svc.client.delete().key(contender);
    const written = await svc.client
      .if(contender, 'Create', '==', 0)
      .then(
        svc.client
          .put(contender)
          .value(JSON.stringify({ ...record, q: oldName }))
          .lease(lease),
        svc.client.put(oldName).value(contender).lease(lease),
      )
      .commit();
    expect(written.succeeded).toBe(true);
    const token = written.header.revision;
    expect(await ledgerKeys()).toEqual([oldName]);
    const r = await call(svc.url, 'DELETE', `/v1/slots/lr-old/grants/${token}`, {
      headers: secret(g.secret),
    });
    expect(r.status).toBe(204);
    await expect.poll(ledgerKeys, { timeout: 5000 }).toEqual([]);
  });
});
