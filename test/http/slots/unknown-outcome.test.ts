import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { eventually } from '../../support/poll.js';

/**
 * Answers lost after commit (issue 13, item 5): the acquire transaction is applied but its answer
 * never arrives, so the caller is told 503 while a cleanup of that attempt runs in the background.
 */
describe('an acquire whose answer was lost after etcd applied it', () => {
  let svc: TestService;
  /** Txn answers still to lose, and whether lease revokes fail before being sent. */
  const faults = { loseTxns: 0, failRevokes: false };
  beforeAll(async () => {
    svc = await startTestService(
      {},
      {
        etcdFaults: {
          loseAnswer: op => {
            if (op !== 'txn' || faults.loseTxns <= 0) return false;
            faults.loseTxns--;
            return true;
          },
          failBeforeSend: op => op === 'lease_revoke' && faults.failRevokes,
        },
      },
    );
  });
  afterAll(async () => {
    faults.failRevokes = false;
    await svc.close();
  });

  const acquire = (slot: string, body: Record<string, unknown>, key?: string) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ttlSeconds: 10, ...body },
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });

  it('says the outcome is unknown, and a late cleanup never deletes the grant a retry replayed', async () => {
    const slot = `lost-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    faults.loseTxns = 1;
    faults.failRevokes = true;
    const first = await acquire(slot, {}, key);
    expect(first.status).toBe(503);
    expect(first.body.code).toBe('etcd_unavailable');
    expect(first.body.outcome).toBe('unknown');
    expect(first.body.detail).toContain('outcome unknown');
    expect(first.headers.get('retry-after')).not.toBeNull();

    // The client retries with the same Idempotency-Key: the committed grant is replayed.
    const retry = await acquire(slot, {}, key);
    expect(retry.status).toBe(200);
    expect(retry.body.expiresInMs).toBeGreaterThan(8000);

    // etcd takes revokes again: the first attempt's cleanup finally runs, late.
    faults.failRevokes = false;
    expect(
      await eventually(() => Promise.resolve(svc.services.cleanup.pending === 0), 15_000),
    ).toBe(true);

    // The replayed grant is still held: its keepalive works and nobody else is granted.
    const kept = await call(
      svc.url,
      'POST',
      `/v1/slots/${slot}/grants/${retry.body.token}/keepalive`,
      { headers: { 'slotlock-secret': retry.body.secret } },
    );
    expect(kept.status).toBe(200);
    const other = await acquire(slot, {});
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('slot_busy');
  });

  it('removes the attempt whose answer was lost when nobody retries it', async () => {
    const slot = `lost-${randomUUID().slice(0, 8)}`;
    faults.loseTxns = 1;
    const first = await acquire(slot, {}, randomUUID());
    expect(first.status).toBe(503);
    // Its key was committed, but its cleanup (a revoke of its own lease) frees the slot.
    expect(await eventually(async () => (await acquire(slot, {})).status === 201, 10_000)).toBe(
      true,
    );
  });
});
