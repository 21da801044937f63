import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { LeaseKeeper } from '../../src/etcd/lease-keeper.js';
import { EtcdStore } from '../../src/etcd/store.js';
import { createMetrics } from '../../src/metrics.js';
import { etcdEndpoints } from '../support/etcd.js';
import { pollValue } from '../support/poll.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** The shared keepalive stream (issue 13, item 9), against real etcd behind a loopback proxy. */
describe('LeaseKeeper', () => {
  let proxy: TcpProxy;
  let viaProxy: Etcd3;
  let direct: Etcd3;
  let store: EtcdStore;
  beforeAll(async () => {
    proxy = await TcpProxy.start(Number(new URL(etcdEndpoints()[0] ?? '').port));
    viaProxy = connectEtcd({ endpoints: [proxy.url], callTimeoutMs: 1000, retryAfterS: 1 });
    direct = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 2000, retryAfterS: 1 });
    store = new EtcdStore(direct, createMetrics({ defaultMetrics: false }), 1);
  });
  afterAll(async () => {
    viaProxy.close();
    direct.close();
    await proxy.close();
  });

  it('credits a late answer to the request it answers, not to the next one', async () => {
    const keeper = new LeaseKeeper(viaProxy, createMetrics({ defaultMetrics: false }), 1000, 1);
    try {
      const lease = await store.leaseGrant(30);
      expect(await keeper.keepAlive(lease)).toBe(30);
      // etcd renews at once but its answer is held back: the first keepalive times out.
      proxy.hold();
      await expect(keeper.keepAlive(lease)).rejects.toMatchObject({ code: 'etcd_unavailable' });
      await store.leaseRevoke(lease);
      const held = proxy.heldChunks;
      const second = keeper.keepAlive(lease);
      // Wait until etcd's answer to the second one (TTL 0: gone) is held too, then let all through.
      await pollValue(
        () => Promise.resolve(proxy.heldChunks),
        n => n > held,
        800,
        5,
      );
      proxy.release();
      expect(await second).toBe(0);
    } finally {
      proxy.release();
      keeper.close();
    }
  });

  it('leaves no abort listener behind per keepalive', async () => {
    const keeper = new LeaseKeeper(viaProxy, createMetrics({ defaultMetrics: false }), 1000, 1);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const lease = await store.leaseGrant(30);
      const waiting = new AbortController();
      for (let i = 0; i < 20; i++) await keeper.keepAlive(lease, { signal: waiting.signal });
      await new Promise(resolve => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      keeper.close();
    }
  });
});
