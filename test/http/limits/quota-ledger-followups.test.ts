/**
 * A grant's quota ledger key lives exactly as long as the grant, in the corners the ledger's
 * naming left open: a replayed per-grant acquire (its grant moves to the retry's lease), a session
 * acquire whose answer was lost (its cleanup removes the contender key), and the background delete
 * after a release by another principal racing a re-acquire with the same Idempotency-Key.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, etcdCalls, startTestService, type TestService } from '../../support/app.js';

const secret = (s: string) => ({ 'slotlock-secret': s });

/** Ledger keys of the anonymous principal, read with the raw client (no service counters). */
async function ledgerKvs(svc: TestService) {
  const prefix = svc.services.quotas.ledgerPrefix('grants', 'anonymous');
  return (await svc.client.getAll().prefix(prefix).exec()).kvs;
}

/** Contender keys of one slot, read with the raw client. */
async function contenderKvs(svc: TestService, slot: string) {
  return (await svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#h/`).exec()).kvs;
}

/** Waits until no background cleanup job is running (a revoke, a withdrawal, a ledger delete). */
const settled = (svc: TestService) =>
  expect.poll(() => svc.services.cleanup.pending, { timeout: 10_000 }).toBe(0);

async function newSession(svc: TestService): Promise<string> {
  const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
  expect(s.status).toBe(201);
  return s.body.session as string;
}

describe('a replayed per-grant acquire', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '2', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('moves its ledger key to the retry’s lease, so the quota still counts the grant', async () => {
    const headers = { 'idempotency-key': randomUUID() };
    const body = { holder: 'h', ttlSeconds: 30 };
    const g = await call(svc.url, 'POST', '/v1/slots/fu-replay/grants', { body, headers });
    expect(g.status).toBe(201);
    const again = await call(svc.url, 'POST', '/v1/slots/fu-replay/grants', { body, headers });
    expect(again.status).toBe(200);
    expect(again.body.token).toBe(g.body.token);
    // The first attempt's lease is revoked in the background: wait for it.
    await settled(svc);
    const [grantKv] = await contenderKvs(svc, 'fu-replay');
    const ledger = await ledgerKvs(svc);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]?.value.toString()).toBe(grantKv?.key.toString());
    expect(ledger[0]?.lease).toBe(grantKv?.lease);

    // At the quota (2): one more grant passes, the next is refused.
    const second = await call(svc.url, 'POST', '/v1/slots/fu-second/grants', { body });
    expect(second.status).toBe(201);
    const over = await call(svc.url, 'POST', '/v1/slots/fu-over/grants', { body });
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'quota_exceeded', quota: 'grants', limit: 2 });

    for (const [slot, grant] of [
      ['fu-replay', g.body],
      ['fu-second', second.body],
    ] as const) {
      const r = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${grant.token}`, {
        headers: secret(grant.secret as string),
      });
      expect(r.status).toBe(204);
    }
    await settled(svc);
    expect(await ledgerKvs(svc)).toEqual([]);
  });
});

describe('a session acquire whose answer was lost', () => {
  let svc: TestService;
  /** Txn answers still to lose. */
  const faults = { loseTxns: 0 };
  beforeAll(async () => {
    svc = await startTestService(
      { QUOTA_GRANTS: '1', TTL_MAX_S: '60' },
      {
        etcdFaults: {
          loseAnswer: op => {
            if (op !== 'txn' || faults.loseTxns <= 0) return false;
            faults.loseTxns--;
            return true;
          },
        },
      },
    );
  });
  afterAll(async () => {
    await svc.close();
  });

  it('removes its ledger key with its contender key, freeing its place at once', async () => {
    const session = await newSession(svc);
    const body = { holder: 'h', ttlSeconds: 30, session };
    faults.loseTxns = 1;
    const lost = await call(svc.url, 'POST', '/v1/slots/fu-lost/grants', { body });
    expect(lost.status).toBe(503);
    expect(lost.body.outcome).toBe('unknown');
    expect(faults.loseTxns).toBe(0);
    await settled(svc);
    expect(await contenderKvs(svc, 'fu-lost')).toEqual([]);
    expect(await ledgerKvs(svc)).toEqual([]);
    // The quota (1) has room again, while the session lives on.
    const next = await call(svc.url, 'POST', '/v1/slots/fu-next/grants', { body });
    expect(next.status).toBe(201);
    const r = await call(svc.url, 'DELETE', `/v1/slots/fu-next/grants/${next.body.token}`, {
      headers: secret(next.body.secret as string),
    });
    expect(r.status).toBe(204);
    expect(await ledgerKvs(svc)).toEqual([]);
  });
});

describe('a session acquire whose answer was lost, then replayed', () => {
  let svc: TestService;
  /** How long the held range waits before it is sent: the window for the retry. */
  const HOLD_MS = 2000;
  const faults = { loseTxns: 0, passRanges: -1 };
  beforeAll(async () => {
    // A quota of 2: every admit reads the count (no reuse this close to the quota).
    svc = await startTestService(
      { QUOTA_GRANTS: '2', TTL_MAX_S: '60' },
      {
        etcdFaults: {
          loseAnswer: op => {
            if (op !== 'txn' || faults.loseTxns <= 0) return false;
            faults.loseTxns--;
            return true;
          },
          delaySend: op => {
            if (op !== 'range' || faults.passRanges < 0) return 0;
            if (faults.passRanges > 0) {
              faults.passRanges--;
              return 0;
            }
            faults.passRanges = -1;
            return HOLD_MS;
          },
        },
      },
    );
  });
  afterAll(async () => {
    await svc.close();
  });

  it('keeps the ledger key of the grant a retry replayed, however late the cleanup runs', async () => {
    const session = await newSession(svc);
    const headers = { 'idempotency-key': randomUUID() };
    const body = { holder: 'h', ttlSeconds: 30, session };
    // The quota count passes, the acquire txn's answer is lost, the cleanup's read is held.
    faults.loseTxns = 1;
    faults.passRanges = 1;
    const lost = await call(svc.url, 'POST', '/v1/slots/fu-late/grants', { body, headers });
    expect(lost.status).toBe(503);
    expect(faults.passRanges).toBe(-1);
    expect(svc.services.cleanup.pending).toBe(1);
    const retry = await call(svc.url, 'POST', '/v1/slots/fu-late/grants', { body, headers });
    expect(retry.status).toBe(200);
    expect(svc.services.cleanup.pending).toBe(1);
    await settled(svc);
    const [grantKv] = await contenderKvs(svc, 'fu-late');
    expect(grantKv?.create_revision).toBe(retry.body.token);
    const ledger = await ledgerKvs(svc);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]?.value.toString()).toBe(grantKv?.key.toString());
    const r = await call(svc.url, 'DELETE', `/v1/slots/fu-late/grants/${retry.body.token}`, {
      headers: secret(retry.body.secret as string),
    });
    expect(r.status).toBe(204);
    expect(await ledgerKvs(svc)).toEqual([]);
  });
});

describe('the background ledger delete after a release by another principal', () => {
  let svc: TestService;
  /** How long the held txn waits before it is sent: the window for the re-acquire. */
  const HOLD_MS = 3000;
  /** While >= 0: txns still let through before the next one is held (then back to -1). */
  const hold = { pass: -1 };
  beforeAll(async () => {
    svc = await startTestService(
      { QUOTA_GRANTS: '10', TTL_MAX_S: '60' },
      {
        etcdFaults: {
          delaySend: op => {
            if (op !== 'txn' || hold.pass < 0) return 0;
            if (hold.pass > 0) {
              hold.pass--;
              return 0;
            }
            hold.pass = -1;
            return HOLD_MS;
          },
        },
      },
    );
  });
  afterAll(async () => {
    await svc.close();
  });

  it('never deletes the ledger key of a re-acquire with the same Idempotency-Key', async () => {
    const session = await newSession(svc);
    const headers = { 'idempotency-key': randomUUID() };
    const body = { holder: 'h', ttlSeconds: 30, session };
    const g = await call(svc.url, 'POST', '/v1/slots/fu-again/grants', { body, headers });
    expect(g.status).toBe(201);
    expect(await ledgerKvs(svc)).toHaveLength(1);
    await settled(svc);

    // Released by another principal: its ledger prefix does not name the grant's ledger key, so
    // the key goes in a background txn, which is held (the txn after the release's own).
    const txnsBefore = await etcdCalls(svc, 'txn');
    hold.pass = 1;
    const otherPrefix = svc.services.quotas.ledgerPrefix('grants', 'someone-else');
    await svc.services.semaphore.release('fu-again', g.body.token as string, g.body.secret, {
      ledgerPrefix: otherPrefix,
    });
    expect(hold.pass).toBe(-1);
    expect(svc.services.cleanup.pending).toBe(1);

    // Re-acquired with the same Idempotency-Key (same contender key, same ledger key name).
    const again = await call(svc.url, 'POST', '/v1/slots/fu-again/grants', { body, headers });
    expect(again.status).toBe(201);
    expect(BigInt(again.body.token as string)).toBeGreaterThan(BigInt(g.body.token as string));
    // The old grant's ledger delete has not run yet: only the release and the acquire went out.
    expect(svc.services.cleanup.pending).toBe(1);
    expect((await etcdCalls(svc, 'txn')) - txnsBefore).toBe(2);

    await settled(svc);
    expect((await etcdCalls(svc, 'txn')) - txnsBefore).toBe(3);
    // The new grant's ledger key survives it: written with the new grant (same revision).
    const ledger = await ledgerKvs(svc);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]?.mod_revision).toBe(again.body.token);

    const r = await call(svc.url, 'DELETE', `/v1/slots/fu-again/grants/${again.body.token}`, {
      headers: secret(again.body.secret as string),
    });
    expect(r.status).toBe(204);
    expect(await ledgerKvs(svc)).toEqual([]);
  });
});
