import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../../src/etcd/client.js';
import { startEtcdMember, type EtcdMember } from '../../../src/embedded-etcd/index.js';
import { call, startTestService, type TestService } from '../../support/app.js';
import { until } from '../../support/poll.js';
import { TcpProxy } from '../../support/tcp-proxy.js';

/**
 * Issue 13, item 1: a replica whose watch comes back after etcd compacted past its revision
 * re-reads the heads of its waiting slots and grants them (it used to hang in etcd3's
 * `watcher.cancel()` and leave the waiter to time out). The replica reaches a private etcd
 * through a TCP proxy, so the test can cut it off while it compacts.
 */
describe('slot watch resync after compaction', () => {
  let dir: string;
  let member: EtcdMember;
  let proxy: TcpProxy;
  let direct: Etcd3;
  let svc: TestService;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-resync-'));
    member = await startEtcdMember({ name: 'resync', dataDir: join(dir, 'data') });
    proxy = await TcpProxy.start(Number(new URL(member.clientUrl).port));
    direct = connectEtcd({ endpoints: [member.clientUrl], callTimeoutMs: 2000, retryAfterS: 1 });
    svc = await startTestService({}, { endpoints: [proxy.url] });
  });

  afterAll(async () => {
    await svc.close();
    direct.close();
    await proxy.close();
    await member.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('grants a waiter whose holder left while the watch was cut off and etcd compacted', async () => {
    const slot = 'dispatch:compacted';
    const path = `/v1/slots/${slot}/grants`;
    const held = await call(svc.url, 'POST', path, { body: { holder: 'a', ttlSeconds: 30 } });
    expect(held.status).toBe(201);
    const started = performance.now();
    const waiting = call(svc.url, 'POST', path, {
      body: { holder: 'b', ttlSeconds: 30, waitMs: 10_000 },
      timeoutMs: 15_000,
    });
    const prefix = svc.config.ETCD_PREFIX;
    const keys = await until(
      'the waiter queued',
      async () => {
        const res = await direct.getAll().prefix(prefix).exec();
        // Contender keys only (quota ledger keys are on the same leases, under <prefix>q/).
        const contenders = res.kvs.filter(
          kv => kv.lease !== '0' && kv.key.toString().includes('#h/'),
        );
        return contenders.length >= 2 ? contenders : undefined;
      },
      5000,
    );
    const holderLease = keys.sort((x, y) =>
      BigInt(x.create_revision) < BigInt(y.create_revision) ? -1 : 1,
    )[0]?.lease;
    if (holderLease === undefined) throw new Error('no holder key');

    // Cut the replica off; the holder's lease ends and etcd compacts past that delete.
    proxy.down();
    await direct.leaseClient.leaseRevoke({ ID: holderLease });
    const last = await direct.put(`${prefix}unrelated`).value('x').exec();
    await direct.kv.compact({ revision: last.header.revision, physical: true });
    proxy.accepting();

    const answer = await waiting;
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body.holder).toBe('b');
    expect(performance.now() - started).toBeLessThan(8000);
    const resyncs = await svc.services.metrics.watchResyncs.get();
    const slotsResyncs = resyncs.values.find(v => v.labels.watch === 'slots')?.value ?? 0;
    expect(slotsResyncs).toBeGreaterThanOrEqual(1);
    const connected = await svc.services.metrics.watchesConnected.get();
    expect(connected.values.find(v => v.labels.watch === 'slots')?.value).toBe(1);
  });
});
