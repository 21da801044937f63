import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { pollValue } from '../../support/poll.js';

/** One failed head read does not fail every local waiter of the slot (issue 13, smaller items). */
describe('a failed read of the queue head', () => {
  let a: TestService;
  let b: TestService;
  let failNextTxn = false;
  beforeAll(async () => {
    a = await startTestService(
      {},
      {
        etcdFaults: {
          failBeforeSend: op => {
            if (op !== 'txn' || !failNextTxn) return false;
            failNextTxn = false;
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

  it('is retried, and the waiter is granted', async () => {
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
    failNextTxn = true;
    const released = await call(b.url, 'DELETE', `/v1/slots/${slot}/grants/${holder.body.token}`, {
      headers: { 'slotlock-secret': holder.body.secret },
    });
    expect(released.status).toBe(204);
    const granted = await waiting;
    expect(failNextTxn).toBe(false);
    expect(granted.status).toBe(201);
  });
});
