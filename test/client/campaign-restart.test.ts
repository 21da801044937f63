import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectionClient, type Leadership } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { until } from './helpers.js';

describe('ElectionClient.campaign', () => {
  let svc: TestService;
  let elections: ElectionClient;
  const terms: Leadership[] = [];

  beforeAll(async () => {
    svc = await startTestService();
    elections = new ElectionClient({ url: svc.url, retry: { baseMs: 20 } });
  });
  afterAll(async () => {
    await Promise.allSettled(terms.map(t => t.resign()));
    await svc.close();
  });

  /** The lease of the waiting candidacy created after `token`, once it is in etcd. */
  async function waitingLease(token: string): Promise<string> {
    return until('a waiting candidacy in etcd', async () => {
      const res = await svc.client.getAll().prefix(svc.config.ETCD_PREFIX).exec();
      const kv = res.kvs.find(k => k.lease !== '0' && BigInt(k.create_revision) > BigInt(token));
      return kv?.lease;
    });
  }

  it('starts over when its wait is answered wait_cancelled, and is elected later', async () => {
    const first = await elections.campaign({ election: 'restart/e', candidate: 'a' });
    terms.push(first);
    const ctl = new AbortController();
    const second = elections.campaign({
      election: 'restart/e',
      candidate: 'b',
      signal: AbortSignal.any([ctl.signal, AbortSignal.timeout(20_000)]),
    });
    // The waiter's lease vanishes (what a server stall past its TTL does): the long-poll is
    // answered 409 wait_cancelled, and the campaign must start over instead of giving up.
    await svc.client.leaseClient.leaseRevoke({ ID: await waitingLease(first.token) });
    // The new candidacy waits again; when the leader resigns it is elected.
    const again = await until('a new waiting candidacy', async () => {
      const res = await svc.client.getAll().prefix(svc.config.ETCD_PREFIX).exec();
      return res.kvs.some(
        k => k.lease !== '0' && BigInt(k.create_revision) > BigInt(first.token) + 1n,
      )
        ? true
        : undefined;
    });
    expect(again).toBe(true);
    await first.resign();
    const won = await second;
    terms.push(won);
    expect(won.candidate).toBe('b');
    expect(BigInt(won.token)).toBeGreaterThan(BigInt(first.token));
  });

  it('still gives up with the signal reason when the caller aborts', async () => {
    const first = await elections.campaign({ election: 'restart/abort', candidate: 'a' });
    terms.push(first);
    const ctl = new AbortController();
    const second = elections.campaign({
      election: 'restart/abort',
      candidate: 'b',
      signal: ctl.signal,
    });
    await waitingLease(first.token);
    ctl.abort(new Error('caller gave up'));
    await expect(second).rejects.toThrow('caller gave up');
  });
});
