import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ElectionClient,
  isSlotlockError,
  type LeaderChange,
  type Leadership,
} from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { revokeLeaseOf } from './etcd-probe.js';
import { abortedWithin, recordingFetch, until } from './helpers.js';

describe('ElectionClient', () => {
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

  /** Resolves once etcd holds a candidacy created after `token` (a waiting candidate). */
  async function candidateAfter(token: string): Promise<void> {
    await until('a second candidacy in etcd', async () => {
      const res = await svc.client.getAll().prefix(svc.config.ETCD_PREFIX).exec();
      const later = res.kvs.some(
        kv => kv.lease !== '0' && BigInt(kv.create_revision) > BigInt(token),
      );
      return later ? true : undefined;
    });
  }

  it('elects a lone candidate at once, with a term token, and leader() reports it', async () => {
    const a = await elections.campaign({
      election: 'lone/e',
      candidate: 'w1',
      value: '10.0.0.1',
      ttlSeconds: 5,
    });
    terms.push(a);
    expect(a.token).toMatch(/^[1-9][0-9]*$/);
    expect(a).toMatchObject({ election: 'lone/e', candidate: 'w1', value: '10.0.0.1' });
    expect(a.signal.aborted).toBe(false);
    const now = await elections.leader({ election: 'lone/e' });
    expect(now.leader).toMatchObject({ candidate: 'w1', token: a.token, value: '10.0.0.1' });
    await a.proclaim('10.0.0.2');
    expect(a.value).toBe('10.0.0.2');
    expect((await elections.leader({ election: 'lone/e' })).leader?.value).toBe('10.0.0.2');
    await a.resign();
    expect(isSlotlockError(a.signal.reason, 'released')).toBe(true);
    expect((await elections.leader({ election: 'lone/e' })).leader).toBeNull();
  });

  it('keeps campaigning through wait_timeouts and is elected when the leader resigns', async () => {
    const a = await elections.campaign({ election: 'handover', candidate: 'w1', ttlSeconds: 5 });
    terms.push(a);
    const rec = recordingFetch();
    const patient = new ElectionClient({ url: svc.url, fetch: rec.fetch });
    const pending = patient.campaign({
      election: 'handover',
      candidate: 'w2',
      ttlSeconds: 5,
      pollMs: 300,
    });
    const campaigns = () => rec.sent.filter(s => s.url.endsWith('/campaign'));
    await until('two long-polls to time out', () => (campaigns().length >= 3 ? true : undefined));
    expect(
      campaigns()
        .slice(0, 2)
        .map(s => s.status),
    ).toEqual([409, 409]);
    await candidateAfter(a.token);
    await a.resign();
    const b = await pending;
    terms.push(b);
    expect(b.waited).toBe(true);
    expect(BigInt(b.token)).toBeGreaterThan(BigInt(a.token));
    expect((await elections.leader({ election: 'handover' })).leader?.candidate).toBe('w2');
    await b.resign();
  });

  it('aborts leadership.signal with grant_gone when the term lease disappears', async () => {
    const a = await elections.campaign({ election: 'lost', candidate: 'w1', ttlSeconds: 3 });
    terms.push(a);
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, a.token);
    await abortedWithin(a.signal, 3_000);
    expect(isSlotlockError(a.signal.reason, 'grant_gone')).toBe(true);
    await expect(a.proclaim('late')).rejects.toMatchObject({ code: 'grant_gone' });
    await a.resign(); // already gone: resolves
  });

  it('rejects a campaign with the signal reason when aborted, withdrawing the candidacy', async () => {
    const a = await elections.campaign({ election: 'give-up', candidate: 'w1', ttlSeconds: 5 });
    terms.push(a);
    const ctl = new AbortController();
    const pending = elections.campaign({
      election: 'give-up',
      candidate: 'w2',
      ttlSeconds: 5,
      signal: ctl.signal,
    });
    await candidateAfter(a.token);
    ctl.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
    await a.resign();
    await until('the election to have no leader', async () => {
      const s = await elections.leader({ election: 'give-up' });
      return s.leader === null ? true : undefined;
    });
  });

  it('observes the current leader, then changes, resuming with Last-Event-ID after a drop', async () => {
    const rec = recordingFetch();
    const watcher = new ElectionClient({ url: svc.url, fetch: rec.fetch, retry: { baseMs: 20 } });
    const ctl = new AbortController();
    const it = watcher.observe({ election: 'watched', signal: ctl.signal })[Symbol.asyncIterator]();
    const next = async (): Promise<LeaderChange> => {
      const r = await it.next();
      if (r.done === true) throw new Error('observe ended early');
      return r.value;
    };
    try {
      const first = await next();
      expect(first).toMatchObject({ election: 'watched', leader: null });

      const a = await elections.campaign({ election: 'watched', candidate: 'w1', ttlSeconds: 5 });
      terms.push(a);
      const elected = await next();
      expect(elected.leader).toMatchObject({ candidate: 'w1', token: a.token });
      expect(BigInt(elected.revision)).toBeGreaterThan(BigInt(first.revision));

      // Drop every connection (the SSE stream included), then change the leader.
      svc.server.closeAllConnections();
      await a.resign();
      const resigned = await next();
      expect(resigned.leader).toBeNull();
      expect(BigInt(resigned.revision)).toBeGreaterThan(BigInt(elected.revision));

      const opens = rec.sent.filter(s => s.url.endsWith('/observe'));
      expect(opens.length).toBeGreaterThanOrEqual(2);
      expect(opens[1]?.headers['last-event-id']).toBe(elected.revision);
    } finally {
      ctl.abort();
    }
    // Ends cleanly once aborted.
    expect((await it.next()).done).toBe(true);
  });

  it('ends a for-await observation without error when the signal aborts', async () => {
    const ctl = new AbortController();
    const seen: LeaderChange[] = [];
    for await (const change of elections.observe({ election: 'quiet', signal: ctl.signal })) {
      seen.push(change);
      ctl.abort();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]?.leader).toBeNull();
  });
});
