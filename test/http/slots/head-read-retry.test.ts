import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { pollValue } from '../../support/poll.js';

/** One failed head read does not fail every local waiter of the slot (issue 13, smaller items). */
describe('a failed read of the queue head', () => {
  let a: TestService;
  let b: TestService;
  /** Transactions of service a to fail before they are sent. */
  let failTxns = 0;
  beforeAll(async () => {
    a = await startTestService(
      {},
      {
        etcdFaults: {
          failBeforeSend: op => {
            if (op !== 'txn' || failTxns <= 0) return false;
            failTxns--;
            return true;
          },
        },
      },
    );
    b = await startTestService({ ETCD_PREFIX: a.config.ETCD_PREFIX });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  async function waiterAfterFailedReads(failures: number) {
    const slot = `hr-${randomUUID().slice(0, 8)}`;
    const holder = await call(b.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h1', ttlSeconds: 10 },
    });
    expect(holder.status).toBe(201);
    const waiting = call(a.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h2', ttlSeconds: 10, waitMs: 15_000 },
    });
    await pollValue(
      () => call(b.url, 'GET', `/v1/slots/${slot}`),
      r => r.body.waiting === 1,
      5000,
    );
    // The release goes through b; a learns of it from its watch and reads the head: that fails.
    failTxns = failures;
    const released = await call(b.url, 'DELETE', `/v1/slots/${slot}/grants/${holder.body.token}`, {
      headers: { 'slotlock-secret': holder.body.secret },
    });
    expect(released.status).toBe(204);
    const granted = await waiting;
    expect(failTxns).toBe(0);
    return granted;
  }

  it('is retried, and the waiter is granted', async () => {
    expect((await waiterAfterFailedReads(1)).status).toBe(201);
  });

  it('is retried through a few seconds of failures (a reconnect under load), not failed after 1.5 s', async () => {
    // Seven failed reads span about 4.5 s of backoff; the waiter waits up to 15 s.
    const granted = await waiterAfterFailedReads(7);
    expect(granted.status, JSON.stringify(granted.body)).toBe(201);
  });
});
