import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { EtcdStore, type Txn } from '../../src/etcd/store.js';
import { startEtcdMember } from '../../src/embedded-etcd/index.js';
import { createMetrics } from '../../src/metrics.js';
import { etcdEndpoints, uniquePrefix, withTempDir } from '../support/etcd.js';

/** A put of `key` (on `lease` when given) plus `extraOps - 1` reads: a transaction of that width. */
function putTxn(key: string, lease?: string, extraOps = 1): Txn {
  return {
    compare: [{ key, target: 'create', op: '==', value: '0' }],
    success: [
      { put: { key, value: 'v', ...(lease === undefined ? {} : { lease }) } },
      ...Array.from({ length: extraOps - 1 }, () => ({ range: { key } })),
    ],
  };
}

/** Settles every promise, answering 'ok' or the error's message for each. */
async function outcomes(ps: Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(ps);
  return settled.map(s => (s.status === 'fulfilled' ? 'ok' : String(s.reason)));
}

describe('group commit isolates its members (issue 13, items 7 and 8), against real etcd', () => {
  let client: Etcd3;
  beforeAll(() => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 3000, retryAfterS: 1 });
  });
  afterAll(() => {
    client.close();
  });

  /** A store whose one call in flight makes everything submitted meanwhile one batch. */
  const batchingStore = (c: Etcd3, maxOps?: number) =>
    new EtcdStore(c, createMetrics({ defaultMetrics: false }), 1, {
      maxBatch: 128,
      maxInFlight: 1,
      deadlineMs: 3000,
      ...(maxOps === undefined ? {} : { maxOps }),
    });

  it('fails only the member whose lease is gone, not the rest of its batch', async () => {
    const store = batchingStore(client);
    const p = uniquePrefix('iso-dead');
    const dead = await store.leaseGrant(10);
    await store.leaseRevoke(dead);
    const blocker = store.txn(putTxn(`${p}blocker#k`), { group: `${p}blocker#` });
    const members = [0, 1, 2, 3].map(i =>
      store.txn(putTxn(`${p}s${i}#k`, i === 2 ? dead : undefined), { group: `${p}s${i}#` }),
    );
    await blocker;
    const got = await outcomes(members);
    expect(got.filter(o => o === 'ok')).toHaveLength(3);
    expect(got[2]).toMatch(/lease/i);
  });

  it('never revokes a lease while a transaction that names it is in flight', async () => {
    // Transactions take 300 ms to reach etcd (a slow link), so the revoke below is sent first.
    const store = new EtcdStore(
      client,
      createMetrics({ defaultMetrics: false }),
      1,
      { maxBatch: 128, maxInFlight: 1, deadlineMs: 3000 },
      { delaySend: op => (op === 'txn' ? 300 : 0) },
    );
    const p = uniquePrefix('iso-revoke');
    const lease = await store.leaseGrant(10);
    const blocker = store.txn(putTxn(`${p}blocker#k`), { group: `${p}blocker#` });
    const members = [0, 1, 2, 3].map(i =>
      store.txn(putTxn(`${p}s${i}#k`, i === 1 ? lease : undefined), { group: `${p}s${i}#` }),
    );
    // As a withdrawal does when a waiter's client disconnects while its batch is out.
    const revoked = store.leaseRevoke(lease);
    await blocker;
    expect(await outcomes(members)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(await revoked).toBe(true);
    // The revoke came after the put, so it took the key with it.
    expect((await store.range({ key: `${p}s1#k` })).count).toBe(0);
    expect((await store.range({ key: `${p}s0#k` })).count).toBe(1);
  });

  it('lets a member that waited long for its batch not shorten the deadline of the others', async () => {
    // Every transaction takes 1 s to reach etcd; each has 1.5 s from its submission.
    const store = new EtcdStore(
      client,
      createMetrics({ defaultMetrics: false }),
      1,
      { maxBatch: 128, maxInFlight: 1, deadlineMs: 1500 },
      { delaySend: op => (op === 'txn' ? 1000 : 0) },
    );
    const p = uniquePrefix('iso-deadline');
    const blocker = store.txn(putTxn(`${p}blocker#k`), { group: `${p}blocker#` });
    // Let the blocker go out alone first: the two below then wait for the next batch.
    await new Promise(resolve => setImmediate(resolve));
    const early = store.txn(putTxn(`${p}a#k`), { group: `${p}a#` });
    early.catch(() => undefined);
    await new Promise(resolve => setTimeout(resolve, 900));
    const late = store.txn(putTxn(`${p}b#k`), { group: `${p}b#` });
    await blocker;
    // Both go out together at ~1 s; the early one's deadline passes before etcd answers.
    await expect(late).resolves.toMatchObject({ succeeded: true });
    await expect(early).rejects.toMatchObject({ code: 'etcd_unavailable', outcomeUnknown: true });
  });

  it("sizes batches by etcd's operation count: 125 transactions of 7 ops all succeed", async () => {
    const store = batchingStore(client, 128);
    const p = uniquePrefix('iso-ops');
    const blocker = store.txn(putTxn(`${p}blocker#k`), { group: `${p}blocker#` });
    const members = Array.from({ length: 125 }, (_, i) =>
      store.txn(putTxn(`${p}s${i}#k`, undefined, 7), { group: `${p}s${i}#` }),
    );
    await blocker;
    const got = await outcomes(members);
    expect(got.filter(o => o !== 'ok')).toEqual([]);
  });

  it('splits a batch etcd rejects as too large (an etcd run with a lower --max-txn-ops)', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({
        name: 'maxops',
        dataDir: join(dir, 'etcd'),
        extraArgs: ['--max-txn-ops=16'],
      });
      const own = connectEtcd({
        endpoints: [member.clientUrl],
        callTimeoutMs: 3000,
        retryAfterS: 1,
      });
      try {
        // Configured for etcd's default (128), but this etcd allows 16.
        const store = batchingStore(own, 128);
        const blocker = store.txn(putTxn('blocker#k'), { group: 'blocker#' });
        const members = Array.from({ length: 20 }, (_, i) =>
          store.txn(putTxn(`s${i}#k`, undefined, 3), { group: `s${i}#` }),
        );
        await blocker;
        expect((await outcomes(members)).filter(o => o !== 'ok')).toEqual([]);
      } finally {
        own.close();
        await member.stop();
      }
    });
  });
});
