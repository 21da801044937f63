import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { eventually } from '../../support/poll.js';

/** Campaigns are as safe to retry as acquires (issue 13, item 12). */
describe('a campaign retried with the same Idempotency-Key', () => {
  let svc: TestService;
  let loseTxns = 0;
  let failRevokes = false;
  beforeAll(async () => {
    svc = await startTestService(
      {},
      {
        etcdFaults: {
          loseAnswer: op => {
            if (op !== 'txn' || loseTxns <= 0) return false;
            loseTxns--;
            return true;
          },
          failBeforeSend: op => op === 'lease_revoke' && failRevokes,
        },
      },
    );
  });
  afterAll(async () => {
    failRevokes = false;
    await svc.close();
  });

  const campaign = (name: string, key: string, body: Record<string, unknown> = {}) =>
    call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
      body: { candidate: 'w1', ttlSeconds: 10, ...body },
      headers: { 'idempotency-key': key },
    });

  it('finds the term its lost answer granted instead of queueing behind a ghost leader', async () => {
    const name = `cr-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    // The lost attempt's cleanup cannot reach etcd for now: its candidacy stays, leading.
    loseTxns = 1;
    failRevokes = true;
    const lost = await campaign(name, key);
    expect(lost.status).toBe(503);
    expect(lost.body.outcome).toBe('unknown');
    const retry = await campaign(name, key);
    failRevokes = false;
    expect(retry.status).toBe(200);
    expect(
      await eventually(() => Promise.resolve(svc.services.cleanup.pending === 0), 15_000),
    ).toBe(true);
    const leader = await call(svc.url, 'GET', `/v1/elections/${name}/leader`);
    expect(leader.body.leader.token).toBe(retry.body.token);
    // The replayed term is the caller's: it renews and resigns with the secret it got.
    const auth = { 'slotlock-secret': retry.body.secret };
    const path = `/v1/elections/${name}/leaders/${retry.body.token}`;
    expect((await call(svc.url, 'POST', `${path}/keepalive`, { headers: auth })).status).toBe(200);
    expect((await call(svc.url, 'DELETE', path, { headers: auth })).status).toBe(204);
  });

  it('answers a plain retry with the same term, and 422 for a different body', async () => {
    const name = `cr-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const first = await campaign(name, key);
    expect(first.status).toBe(201);
    const again = await campaign(name, key);
    expect(again.status).toBe(200);
    expect(again.body.token).toBe(first.body.token);
    expect(again.body.secret).toBe(first.body.secret);
    const other = await campaign(name, key, { candidate: 'w2' });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_conflict');
  });
});
