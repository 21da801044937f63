import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/etcd/client.js';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { watchPrefix, WatchLostError, type WatchItem } from '../../src/etcd/watch.js';
import { uniquePrefix } from '../support/etcd.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The watch adapter against a private etcd (compaction would disturb other tests' watches),
 * reached through a TCP proxy so a test can drop the gRPC connection while etcd stays up.
 */
describe('watchPrefix', () => {
  let dir: string;
  let member: EtcdMember;
  let proxy: TcpProxy;
  let direct: Etcd3;
  let proxied: Etcd3;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-watch-'));
    member = await startEtcdMember({ name: 'watch', dataDir: join(dir, 'data') });
    proxy = await TcpProxy.start(Number(new URL(member.clientUrl).port));
    direct = connectEtcd({ endpoints: [member.clientUrl], callTimeoutMs: 2000, retryAfterS: 1 });
    proxied = connectEtcd({ endpoints: [proxy.url], callTimeoutMs: 2000, retryAfterS: 1 });
  });

  afterAll(async () => {
    proxied.close();
    direct.close();
    await proxy.close();
    await member.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function putMany(prefix: string, n: number): Promise<string[]> {
    const revisions: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await direct.put(`${prefix}k${i}`).value(String(i)).exec();
      revisions.push(res.header.revision);
    }
    return revisions;
  }

  /**
   * Watches `prefix` from `from` and drops the connection right after etcd's answer to the watch
   * request (the "created" response) came through, before its catch-up (sent from etcd's sync
   * loop, up to 100 ms later). Returns the revisions delivered before the watch reported the drop
   * and all revisions delivered within `timeoutMs`.
   */
  async function watchAcrossDrop(prefix: string, from: string, want: number, timeoutMs: number) {
    await proxied.get('warm-up').exec(); // an open, idle connection: the next answer is the watch's
    const abort = new AbortController();
    const timer = setTimeout(() => {
      abort.abort();
    }, timeoutMs);
    const before: string[] = [];
    const all: string[] = [];
    let disconnected = false;
    proxy.dropAfterNextAnswer();
    try {
      for await (const item of watchPrefix(proxied, prefix, from, { signal: abort.signal })) {
        if (item.type === 'disconnected') disconnected = true;
        if (item.type !== 'events') continue;
        const revisions = item.events.map(e => e.revision);
        all.push(...revisions);
        if (!disconnected) before.push(...revisions);
        if (all.length >= want) break;
      }
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    return { before, all, disconnected };
  }

  it('resumes after a dropped stream at the last delivered event: no catch-up event is skipped', async () => {
    for (let attempt = 1; ; attempt++) {
      const prefix = uniquePrefix('watch-drop');
      const written = await putMany(prefix, 20);
      const { before, all, disconnected } = await watchAcrossDrop(
        prefix,
        written[0] ?? '0',
        20,
        8000,
      );
      // The drop must come before the catch-up for this to test anything: retry if it did not.
      if (before.length > 0 && attempt < 5) continue;
      expect(disconnected).toBe(true);
      expect(before).toEqual([]);
      expect(all).toEqual(written);
      return;
    }
  });

  it('throws WatchLostError when it cannot resume past a compaction, and closes at once', async () => {
    const prefix = uniquePrefix('watch-compact');
    const written = await putMany(prefix, 5);
    const last = written[written.length - 1] ?? '0';
    await direct.kv.compact({ revision: last, physical: true });
    const items: WatchItem['type'][] = [];
    const consume = async () => {
      for await (const item of watchPrefix(proxied, prefix, written[0] ?? '0')) {
        items.push(item.type);
      }
    };
    const outcome = await Promise.race([
      consume().then(
        () => 'ended',
        (err: unknown) => err,
      ),
      new Promise(resolve => {
        setTimeout(() => {
          resolve('hung');
        }, 5000);
      }),
    ]);
    expect(outcome).toBeInstanceOf(WatchLostError);
    expect((outcome as Error).message).toMatch(/compacted/);
  });

  it('keeps other watches on the same client alive when one is compacted (no uncaught error)', async () => {
    const live = uniquePrefix('watch-live');
    const compacted = uniquePrefix('watch-compacted');
    const written = await putMany(compacted, 3);
    await direct.kv.compact({ revision: written[2] ?? '0', physical: true });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    const abort = new AbortController();
    try {
      const start = (await direct.get('\0').exec()).header.revision;
      const seen: string[] = [];
      const liveWatch = (async () => {
        const from = String(BigInt(start) + 1n);
        for await (const item of watchPrefix(proxied, live, from, { signal: abort.signal })) {
          if (item.type === 'events') seen.push(...item.events.map(e => e.key));
          if (seen.length >= 2) return;
        }
      })();
      await direct.put(`${live}a`).value('1').exec();
      // Several compacted watches on the same client, one after the other and at once.
      const lost = await Promise.all(
        [1, 2, 3].map(async () => {
          try {
            const items = watchPrefix(proxied, compacted, written[0] ?? '0', {
              signal: abort.signal,
            });
            for await (const item of items) expect(item.type).toBe('connected');
            return 'ended';
          } catch (err) {
            return err instanceof WatchLostError ? 'lost' : String(err);
          }
        }),
      );
      expect(lost).toEqual(['lost', 'lost', 'lost']);
      await direct.put(`${live}b`).value('2').exec();
      await liveWatch;
      expect(seen).toEqual([`${live}a`, `${live}b`]);
      expect(uncaught).toEqual([]);
    } finally {
      abort.abort();
      process.off('uncaughtException', onUncaught);
    }
  });
  it('delivers the previous key-value by default, and none with prevKv off', async () => {
    const prefix = uniquePrefix('watch-prev');
    const [first] = await putMany(prefix, 1);
    const from = String(Number(first) + 1);
    await direct.put(`${prefix}k0`).value('again').exec();
    await direct.delete().key(`${prefix}k0`).exec();
    const read = async (prevKv: boolean | undefined) => {
      const abort = new AbortController();
      const got: { type: string; prev: string | undefined }[] = [];
      for await (const item of watchPrefix(direct, prefix, from, {
        signal: abort.signal,
        ...(prevKv === undefined ? {} : { prevKv }),
      })) {
        if (item.type !== 'events') continue;
        got.push(...item.events.map(e => ({ type: e.type, prev: e.prev?.value })));
        if (got.length >= 2) abort.abort();
      }
      return got;
    };
    expect(await read(undefined)).toEqual([
      { type: 'put', prev: '0' },
      { type: 'delete', prev: 'again' },
    ]);
    expect(await read(false)).toEqual([
      { type: 'put', prev: undefined },
      { type: 'delete', prev: undefined },
    ]);
  });
});
