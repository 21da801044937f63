import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

/**
 * No grant is born nearly dead (issue 13, item 11): when etcd was slow between the lease grant
 * and the acquire transaction, the lease is renewed before the 201 is answered.
 */
describe('the time left of a fresh grant', () => {
  let svc: TestService;
  let slowTxns = false;
  beforeAll(async () => {
    svc = await startTestService(
      { ETCD_CALL_TIMEOUT_MS: '8000' },
      { etcdFaults: { delaySend: op => (op === 'txn' && slowTxns ? 4000 : 0) } },
    );
  });
  afterAll(async () => {
    await svc.close();
  });

  it('renews a lease with less than half its TTL left before answering 201', async () => {
    const slot = `margin-${randomUUID().slice(0, 8)}`;
    slowTxns = true;
    const g = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', ttlSeconds: 6 },
    }).finally(() => {
      slowTxns = false;
    });
    expect(g.status).toBe(201);
    // The lease was granted 4 s before the transaction reached etcd: ~2 s left, then renewed.
    expect(g.body.expiresInMs).toBeGreaterThan(4500);
    // And etcd agrees: the lease really has most of its TTL left.
    const kept = await call(svc.url, 'GET', `/v1/slots/${slot}`);
    expect(kept.body.holders[0].expiresInMs).toBeGreaterThan(4000);
  });
});
