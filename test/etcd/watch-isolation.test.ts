import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/etcd/client.js';
import { watchPrefix } from '../../src/etcd/watch.js';
import { uniquePrefix } from '../support/etcd.js';
import { startEtcdCluster, type EtcdCluster } from '../../src/embedded-etcd/index.js';
import { PeerPartition } from '../support/peer-partition.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Issue 13, item 3: a watch served by a member cut off from the quorum used to deliver nothing and
 * report nothing. With `hasleader` the member cancels it once it has no leader, and the watch
 * moves to another member. The watching client reaches the two other members through proxies
 * that refuse connections until the isolation, so its watch starts on the member to be isolated.
 */
describe('a watch through a member cut off from the quorum', () => {
  let dir: string;
  let cluster: EtcdCluster | undefined;
  const partition = new PeerPartition();
  const proxies: TcpProxy[] = [];
  const clients: Etcd3[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-isolation-'));
    cluster = await startEtcdCluster({
      size: 3,
      baseDir: dir,
      heartbeatMs: 50,
      electionMs: 500,
      advertisePeerUrl: partition.hook,
    });
    await partition.learnIds(cluster.members);
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const p of proxies) await p.close();
    await cluster?.stop();
    await partition.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves to a member with a leader and delivers every change made meanwhile', async () => {
    if (cluster === undefined) throw new Error('no cluster');
    const leader = cluster.members.indexOf(await cluster.leader());
    const cutOff = (leader + 1) % 3;
    const member = (i: number) => {
      const m = cluster?.members[i];
      if (m === undefined) throw new Error(`no member ${i}`);
      return m;
    };
    const others = [0, 1, 2].filter(i => i !== cutOff);
    for (const i of others) {
      const proxy = await TcpProxy.start(Number(new URL(member(i).clientUrl).port));
      proxy.down();
      proxies.push(proxy);
    }
    const watching = connectEtcd({
      endpoints: [member(cutOff).clientUrl, ...proxies.map(p => p.url)],
      callTimeoutMs: 2000,
      retryAfterS: 1,
    });
    const writer = connectEtcd({
      endpoints: others.map(i => member(i).clientUrl),
      callTimeoutMs: 2000,
      retryAfterS: 1,
    });
    clients.push(watching, writer);
    const prefix = uniquePrefix('isolated');
    const from = BigInt((await writer.get('\0').exec()).header.revision) + 1n;

    const abort = new AbortController();
    const timer = setTimeout(() => {
      abort.abort();
    }, 20_000);
    const seen: string[] = [];
    const restarts: string[] = [];
    let saw!: () => void;
    const sawFirst = new Promise<void>(resolve => {
      saw = resolve;
    });
    const watch = (async () => {
      for await (const item of watchPrefix(watching, prefix, from.toString(), {
        signal: abort.signal,
        onRestart: (reason, err) => {
          restarts.push(`${reason}: ${err.message}`);
        },
      })) {
        if (item.type !== 'events') continue;
        seen.push(...item.events.map(e => e.key.slice(prefix.length)));
        saw();
        if (seen.length >= 3) return;
      }
    })();
    try {
      await writer.put(`${prefix}before`).value('1').exec();
      await sawFirst; // served by the member about to be cut off (the only one reachable)
      partition.isolate(member(cutOff).name);
      for (const p of proxies) p.accepting();
      const started = performance.now();
      await writer.put(`${prefix}during-1`).value('2').exec();
      await writer.put(`${prefix}during-2`).value('3').exec();
      // Bounded here, not by the abort: etcd3's old watcher could not even be cancelled.
      await Promise.race([watch, new Promise(resolve => setTimeout(resolve, 15_000))]);
      expect(seen).toEqual(['before', 'during-1', 'during-2']);
      expect(restarts.some(r => r.startsWith('no_leader'))).toBe(true);
      // Detection takes a few election timeouts (etcd cancels after 3 without a leader).
      expect(performance.now() - started).toBeLessThan(15_000);
    } finally {
      clearTimeout(timer);
      abort.abort();
      partition.heal();
    }
  }, 40_000);
});
