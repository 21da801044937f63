import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeLeader } from '../../../src/domain/elections/election-observer.js';
import type { LeaderState } from '../../../src/domain/elections/leader-state.js';
import { LeaseTimeLeft } from '../../../src/domain/lease-time-left.js';
import { connectEtcd } from '../../../src/etcd/client.js';
import { electionSpace, KeyLayout } from '../../../src/etcd/keys.js';
import { EtcdStore } from '../../../src/etcd/store.js';
import { createMetrics } from '../../../src/metrics.js';
import { call, startTestService, type TestService } from '../../support/app.js';
import { etcdEndpoints } from '../../support/etcd.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

/**
 * Issue 13, item 2: an observer resuming from a Last-Event-ID replays the leader changes since
 * then from etcd's history (the watch's catch-up). If its stream drops right after the watch was
 * created, before the catch-up came through, the resumed watch must still deliver every change
 * (etcd3's watcher resumed past them). The observer reads through its own proxied client, so
 * the answer after its history read is exactly the watch's "created" response.
 */
describe('observe resumed with Last-Event-ID', () => {
  let svc: TestService;
  let proxy: TcpProxy;
  let client: Etcd3;

  beforeAll(async () => {
    svc = await startTestService();
    const [endpoint] = etcdEndpoints();
    proxy = await TcpProxy.start(Number(new URL(endpoint ?? '').port));
    client = connectEtcd({ endpoints: [proxy.url], callTimeoutMs: 2000, retryAfterS: 1 });
  });

  afterAll(async () => {
    client.close();
    await proxy.close();
    await svc.close();
  });

  const campaign = async (candidate: string) => {
    const res = await call(svc.url, 'POST', '/v1/elections/e/campaign', {
      body: { candidate, ttlSeconds: 30 },
    });
    expect(res.status).toBe(201);
    return res.body as { token: string; secret: string };
  };
  const resign = async (l: { token: string; secret: string }) => {
    const res = await call(svc.url, 'DELETE', `/v1/elections/e/leaders/${l.token}`, {
      headers: { authorization: `Bearer ${l.secret}`, 'slotlock-secret': l.secret },
    });
    expect(res.status).toBe(204);
  };

  it('delivers every leader change after the Last-Event-ID although the stream dropped during catch-up', async () => {
    const first = await campaign('c1');
    await resign(first);
    const second = await campaign('c2');
    await resign(second);
    await campaign('c3');

    const store = new EtcdStore(client, createMetrics({ defaultMetrics: false }), 1);
    const range = store.range.bind(store);
    let armed = false;
    store.range = async (...args: Parameters<typeof range>) => {
      const res = await range(...args);
      if (!armed) {
        armed = true; // the next answer on this connection is the watch's "created"
        proxy.dropAfterNextAnswer();
      }
      return res;
    };
    const space = electionSpace(new KeyLayout(svc.config.ETCD_PREFIX));
    const abort = new AbortController();
    const timer = setTimeout(() => {
      abort.abort();
    }, 10_000);
    const seen: (string | null)[] = [];
    let restarts = 0;
    try {
      const states = observeLeader(store, space, 'e', new LeaseTimeLeft(store), {
        fromRevision: first.token,
        signal: abort.signal,
        counters: {
          restarted: () => {
            restarts++;
          },
          resynced: () => undefined,
          connected: () => undefined,
        },
      });
      const collect = async () => {
        for await (const state of states as AsyncIterable<LeaderState>) {
          seen.push(state.leader?.candidate ?? null);
          if (seen.length >= 4) return;
        }
      };
      await Promise.race([collect(), new Promise(resolve => setTimeout(resolve, 10_000))]);
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    expect(armed).toBe(true);
    expect(seen).toEqual([null, 'c2', null, 'c3']);
    expect(restarts).toBeGreaterThanOrEqual(1); // the drop happened
  });
});
