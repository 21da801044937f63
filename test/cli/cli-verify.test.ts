import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember } from '../../src/embedded-etcd/index.js';
import { ElectionClient, SlotClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { etcdEndpoints, withTempDir } from '../support/etcd.js';
import { buildPackages } from '../support/packages.js';
import { runCli } from './helpers.js';

describe('slotlock verify', () => {
  let svc: TestService;
  let prefix: string;

  beforeAll(async () => {
    await buildPackages();
    svc = await startTestService();
    prefix = svc.config.ETCD_PREFIX;
  }, 180_000);
  afterAll(async () => {
    await svc.close();
  });

  async function head(): Promise<bigint> {
    const res = await svc.client.get('\0').exec();
    return BigInt(res.header.revision);
  }

  function verify(from: bigint, ...extra: string[]) {
    const args = ['verify', '--etcd', etcdEndpoints().join(','), '--prefix', prefix];
    return runCli([...args, '--from-revision', from.toString(), ...extra]);
  }

  it('passes a history the service made: handovers, a capacity-2 slot, an election', async () => {
    const from = (await head()) + 1n;
    const slots = new SlotClient({ url: svc.url, retry: { baseMs: 20 } });
    const elections = new ElectionClient({ url: svc.url, retry: { baseMs: 20 } });
    const a = await slots.acquire({ slot: 'vf/one', holder: 'a', ttlSeconds: 5 });
    const waiting = slots.acquire({ slot: 'vf/one', holder: 'b', ttlSeconds: 5, waitMs: 10_000 });
    const c1 = await slots.acquire({ slot: 'vf/two', holder: 'c1', capacity: 2, ttlSeconds: 5 });
    const c2 = await slots.acquire({ slot: 'vf/two', holder: 'c2', capacity: 2, ttlSeconds: 5 });
    const t1 = await elections.campaign({ election: 'vf/e', candidate: 'w1' });
    await a.release();
    const b = await waiting;
    await Promise.all([b.release(), c1.release(), c2.release(), t1.resign()]);

    const run = await verify(from, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ slots: 2, elections: 1, contenders: 5, violationCount: 0 });
    expect(BigInt(summary.toRevision)).toBeGreaterThanOrEqual(from);
  });

  it('fails on a history with an overlap made by hand in etcd, printing the first violation', async () => {
    const from = (await head()) + 1n;
    const lease = svc.client.lease(30, { autoKeepAlive: false });
    const key = (id: string) => `${prefix}s/vf/hand#h/${id}`;
    // Two contenders of one slot: the first asked for capacity 1, the second claims capacity 2,
    // which the service would refuse (capacity_conflict). Both count themselves as holders.
    await lease.put(key('first')).value(JSON.stringify({ holder: 'x', capacity: 1 }));
    await lease.put(key('second')).value(JSON.stringify({ holder: 'y', capacity: 2 }));
    const tokens = (await svc.client.getAll().prefix(`${prefix}s/vf/hand#h/`).exec()).kvs
      .map(kv => kv.create_revision)
      .sort();
    try {
      const run = await verify(from);
      expect(run.code).toBe(3);
      expect(run.stdout).toContain('1 violation(s)');
      expect(run.stdout).toContain(
        `violation: slot "vf/hand" (capacity 1) had 2 holders at revision ${tokens[1]}: tokens ${tokens.join(', ')}`,
      );
    } finally {
      await lease.revoke();
    }
  });

  it("rejects a start revision after etcd's head, and one that is not a revision", async () => {
    const future = await verify((await head()) + 1000n);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/is after etcd's current revision/);
    const bad = await runCli([
      'verify',
      '--etcd',
      etcdEndpoints().join(','),
      '--from-revision',
      'x',
    ]);
    expect(bad.code).toBe(2);
  });

  it('starts after the compacted part of the history when no start revision is given', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({ name: 'verify-compact', dataDir: join(dir, 'etcd') });
      const client = new Etcd3({ hosts: [member.clientUrl] });
      try {
        const key = (id: string) => `c/s/vf/c#h/${id}`;
        const lease = client.lease(30, { autoKeepAlive: false });
        await lease.put(key('a')).value(JSON.stringify({ holder: 'a', capacity: 1 }));
        const put = await lease
          .put(key('b'))
          .value(JSON.stringify({ holder: 'b', capacity: 1 }))
          .exec();
        await client.delete().key(key('a')).exec();
        await client.kv.compact({ revision: put.header.revision, physical: true });
        const run = await runCli(['verify', '--etcd', member.clientUrl, '--prefix', 'c/']);
        expect(run.stderr).toMatch(
          new RegExp(`history before revision ${BigInt(put.header.revision) + 1n} was compacted`),
        );
        expect(run.code).toBe(0);
        // The state at the compaction (a and b live) is where the audit starts; then a goes.
        expect(run.stdout).toMatch(
          /: 1 events, 1 slots, 0 elections, 2 contenders: 0 violation\(s\)/,
        );
        // Asked for explicitly, a compacted start is an error, not a silent skip.
        const explicit = await runCli([
          'verify',
          '--etcd',
          member.clientUrl,
          '--prefix',
          'c/',
          '--from-revision',
          '2',
        ]);
        expect(explicit.code).toBe(1);
        expect(explicit.stderr).toMatch(/compacted its history up to revision/);
        await lease.revoke();
      } finally {
        client.close();
        await member.stop();
      }
    });
  });
});
