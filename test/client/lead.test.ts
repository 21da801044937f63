import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectionClient, type Leadership } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { revokeLeaseOf } from './etcd-probe.js';

describe('lead()', () => {
  let svc: TestService;
  let elections: ElectionClient;

  beforeAll(async () => {
    svc = await startTestService();
    elections = new ElectionClient({ url: svc.url, retry: { baseMs: 20 } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('runs the function per term, re-campaigns after a loss, and resigns on abort', async () => {
    const stop = new AbortController();
    const terms: string[] = [];
    let current: Leadership | undefined;
    let secondTerm: (() => void) | undefined;
    const reachedSecond = new Promise<void>(resolve => (secondTerm = resolve));
    const done = elections.lead(
      { election: 'lead/a', candidate: 'w1', ttlSeconds: 4, signal: stop.signal },
      async (term, lost) => {
        terms.push(term.token);
        current = term;
        if (terms.length === 2) secondTerm?.();
        await new Promise(resolve => {
          lost.addEventListener('abort', resolve, { once: true });
        });
      },
    );
    // The first term: lose it behind the client's back; lead() campaigns again.
    await expect.poll(() => terms.length, { timeout: 10_000 }).toBe(1);
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, terms[0] ?? '');
    await reachedSecond;
    expect(BigInt(terms[1] ?? '0')).toBeGreaterThan(BigInt(terms[0] ?? '0'));
    stop.abort();
    await done;
    expect(current?.signal.aborted).toBe(true);
    expect((await elections.leader({ election: 'lead/a' })).leader).toBeNull();
  });

  it('resigns and rejects with the error when the function throws while leading', async () => {
    const boom = new Error('dispatch failed');
    const done = elections.lead({ election: 'lead/b', candidate: 'w1' }, () =>
      Promise.reject(boom),
    );
    await expect(done).rejects.toBe(boom);
    expect((await elections.leader({ election: 'lead/b' })).leader).toBeNull();
  });
});
