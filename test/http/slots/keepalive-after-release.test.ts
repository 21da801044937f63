import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

/**
 * The keepalive route checks the holder key AFTER extending the lease (issue 13, item 9): under
 * a session the lease outlives a released grant, so a check made only before the keepalive would
 * renew, and answer 200 for, a grant released in between.
 */
describe('a keepalive racing a release', () => {
  let a: TestService;
  let b: TestService;
  /** Resolved when the next keepalive's ownership read was answered (then held for 500 ms). */
  let readDone: (() => void) | undefined;
  beforeAll(async () => {
    a = await startTestService(
      {},
      {
        etcdFaults: {
          delayAnswer: op => {
            if (op !== 'txn' || readDone === undefined) return 0;
            readDone();
            readDone = undefined;
            return 500;
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

  it('answers 410 for a grant under a session released while its keepalive was in flight', async () => {
    const s = await call(b.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    expect(s.status).toBe(201);
    const slot = `kar-${randomUUID().slice(0, 8)}`;
    const g = await call(b.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'h', session: s.body.session },
    });
    expect(g.status).toBe(201);
    const auth = { 'slotlock-secret': g.body.secret };
    const read = new Promise<void>(resolve => (readDone = resolve));
    const kept = call(a.url, 'POST', `/v1/slots/${slot}/grants/${g.body.token}/keepalive`, {
      headers: auth,
    });
    await read;
    const released = await call(b.url, 'DELETE', `/v1/slots/${slot}/grants/${g.body.token}`, {
      headers: auth,
    });
    expect(released.status).toBe(204);
    const answer = await kept;
    expect(answer.status).toBe(410);
    expect(answer.body.code).toBe('grant_gone');
  });
});
