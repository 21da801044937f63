import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { freePort } from '../../src/embedded-etcd/free-port.js';
import { EtcdStore, rangeAt, type Txn } from '../../src/etcd/store.js';
import { EtcdError } from '../../src/etcd/errors.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { call, startTestService } from '../support/app.js';
import { etcdEndpoints, uniquePrefix, withTempDir } from '../support/etcd.js';
import { startEtcdMember } from '../../src/embedded-etcd/index.js';
import { join } from 'node:path';

/** Create-if-absent of `key`, then the slot's keys by create revision (an acquire's shape). */
function createTxn(slotPrefix: string, key: string): Txn {
  return {
    compare: [{ key, target: 'create', op: '==', value: '0' }],
    success: [
      { put: { key, value: 'v' } },
      { range: { prefix: slotPrefix, sort: { target: 'create', order: 'asc' } } },
    ],
    failure: [{ range: { key } }],
  };
}

async function txnCalls(metrics: Metrics): Promise<number> {
  const m = await metrics.etcdRequests.get();
  return m.values.filter(v => v.labels.op === 'txn').reduce((sum, v) => sum + v.value, 0);
}

describe('group commit of transactions (TxnBatcher in EtcdStore), against real etcd', () => {
  let client: Etcd3;
  let metrics: Metrics;
  let store: EtcdStore;
  beforeAll(() => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 2000, retryAfterS: 1 });
    metrics = createMetrics({ defaultMetrics: false });
    // One call in flight: whatever is submitted while it is out waits for the next batch.
    store = new EtcdStore(client, metrics, 1, { maxBatch: 32, maxInFlight: 1 });
  });
  afterAll(() => {
    client.close();
  });

  it('carries many slots in one etcd call, and sends a second transaction of a slot on its own', async () => {
    const p = uniquePrefix('batch');
    const slots = Array.from({ length: 12 }, (_, i) => `${p}s${i}#`);
    const before = await txnCalls(metrics);
    // Two contenders per slot, all submitted at once.
    const submitted = slots.flatMap(slot =>
      [0, 1].map(n => ({
        slot,
        key: `${slot}h/${n}`,
        done: store.txn(createTxn(`${slot}h/`, `${slot}h/${n}`), { group: slot }),
      })),
    );
    const answers = await Promise.all(submitted.map(async s => ({ ...s, res: await s.done })));
    const calls = (await txnCalls(metrics)) - before;

    expect(answers.every(a => a.res.succeeded)).toBe(true);
    // 24 transactions: the first contender of every slot in one call; the second ones cannot
    // join it (same slot), so each went alone at the same time.
    expect(calls).toBe(13);
    const firsts = answers.filter(a => a.key.endsWith('/0'));
    const seconds = answers.filter(a => a.key.endsWith('/1'));
    expect(new Set(firsts.map(a => a.res.revision)).size).toBe(1);
    expect(new Set(seconds.map(a => a.res.revision)).size).toBe(12);
    for (const slot of slots) {
      const [a, b] = answers.filter(x => x.slot === slot);
      if (a === undefined || b === undefined) throw new Error('missing answer');
      // Two contenders of one slot never share a revision: their tokens differ.
      expect(b.res.revision).not.toBe(a.res.revision);
      // Each range saw its own put and nothing of the other slots, in create order.
      const [earlier, later] = BigInt(a.res.revision) < BigInt(b.res.revision) ? [a, b] : [b, a];
      expect(rangeAt(later.res.results, 1).kvs.map(kv => kv.key)).toEqual([earlier.key, later.key]);
      // The revision answered is the key's create revision in etcd (the fencing token).
      for (const x of [a, b]) {
        const kv = (await store.range({ key: x.key })).kvs[0];
        expect(kv?.createRevision).toBe(x.res.revision);
      }
    }
    const sizes = await metrics.etcdTxnBatchSize.get();
    const count = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_count');
    const sum = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_sum');
    expect(count?.value).toBe(13);
    expect(sum?.value).toBe(24);
  });

  it('lets each batched transaction take its own branch', async () => {
    const p = uniquePrefix('branch');
    const taken = `${p}a#h/x`;
    await store.txn(createTxn(`${p}a#h/`, taken));
    const before = await txnCalls(metrics);
    const [a, b] = await Promise.all([
      store.txn(createTxn(`${p}a#h/`, taken), { group: `${p}a#` }),
      store.txn(createTxn(`${p}b#h/`, `${p}b#h/y`), { group: `${p}b#` }),
    ]);
    expect((await txnCalls(metrics)) - before).toBe(1);
    expect(a.succeeded).toBe(false);
    expect(rangeAt(a.results, 0).kvs[0]?.key).toBe(taken);
    expect(b.succeeded).toBe(true);
    expect(rangeAt(b.results, 1).kvs.map(kv => kv.key)).toEqual([`${p}b#h/y`]);
  });

  it('never sends a transaction whose caller gave up while it waited for a batch', async () => {
    const p = uniquePrefix('gaveup');
    const gone = new AbortController();
    const first = store.txn(createTxn(`${p}a#h/`, `${p}a#h/1`), { group: `${p}a#` });
    // The first goes out a microtask later; with it in flight, the next one must wait.
    await Promise.resolve();
    await Promise.resolve();
    const second = store.txn(createTxn(`${p}b#h/`, `${p}b#h/2`), {
      group: `${p}b#`,
      signal: gone.signal,
    });
    expect(store.queuedTxns).toBe(1);
    gone.abort(new Error('caller left'));
    await expect(second).rejects.toThrow('caller left');
    expect(store.queuedTxns).toBe(0);
    expect((await first).succeeded).toBe(true);
    const keys = await store.range({ prefix: p });
    expect(keys.kvs.map(kv => kv.key)).toEqual([`${p}a#h/1`]);
  });

  it('fails every transaction of a batch with etcd_unavailable when etcd cannot be reached', async () => {
    const port = await freePort();
    const deadClient = connectEtcd({
      endpoints: [`http://127.0.0.1:${port}`],
      callTimeoutMs: 500,
      retryAfterS: 1,
    });
    try {
      const dead = new EtcdStore(deadClient, createMetrics({ defaultMetrics: false }), 1, {
        maxBatch: 32,
        maxInFlight: 1,
      });
      const results = await Promise.allSettled(
        ['a', 'b', 'c'].map(s => dead.txn(createTxn(`${s}#h/`, `${s}#h/1`), { group: `${s}#` })),
      );
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const err = (r as PromiseRejectedResult).reason as unknown;
        expect(err).toBeInstanceOf(EtcdError);
        expect((err as EtcdError).code).toBe('etcd_unavailable');
      }
    } finally {
      deadClient.close();
    }
  });

  it('bounds every transaction by its own deadline, counting the wait for a batch, when etcd hangs', async () => {
    await withTempDir(async dir => {
      const member = await startEtcdMember({ name: 'batch-hang', dataDir: join(dir, 'etcd') });
      const hangClient = connectEtcd({
        endpoints: [member.clientUrl],
        callTimeoutMs: 600,
        retryAfterS: 1,
      });
      try {
        const hanging = new EtcdStore(hangClient, createMetrics({ defaultMetrics: false }), 1, {
          maxBatch: 32,
          maxInFlight: 1,
          deadlineMs: 600,
        });
        await hanging.txn(createTxn('warm#h/', 'warm#h/1'));
        await member.pause();
        const settle = (s: string) => {
          const at = performance.now();
          return hanging.txn(createTxn(`${s}#h/`, `${s}#h/1`), { group: `${s}#` }).then(
            () => ({ ok: true, ms: performance.now() - at, code: '' }),
            (err: unknown) => ({
              ok: false,
              ms: performance.now() - at,
              code: err instanceof EtcdError ? err.code : String(err),
            }),
          );
        };
        const first = settle('a');
        // The first is out (and hangs); these wait for a free call.
        await Promise.resolve();
        await Promise.resolve();
        const queued = ['b', 'c', 'd'].map(settle);
        expect(hanging.queuedTxns).toBe(3);
        const results = await Promise.all([first, ...queued]);
        for (const r of results) {
          expect(r.ok).toBe(false);
          expect(r.code).toBe('etcd_unavailable');
          // Its own 600 ms deadline, not the first call's plus its own (1,200 ms); slack for load.
          expect(r.ms).toBeLessThan(1000);
        }
      } finally {
        member.resume();
        hangClient.close();
        await member.stop();
      }
    });
  });

  it('serves concurrent acquires of distinct slots over HTTP through batches, each with its own grant', async () => {
    // Each txn call stays out 50 ms, so acquires that arrive meanwhile must wait for the next
    // batch: without it, a fast etcd could answer each call before the next acquire arrived.
    const svc = await startTestService(
      { ETCD_TXN_IN_FLIGHT: '1' },
      { etcdFaults: { delaySend: op => (op === 'txn' ? 50 : 0) } },
    );
    try {
      const grants = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const r = await call(svc.url, 'POST', `/v1/slots/b${i}/grants`, {
            body: { holder: `w${i}`, ttlSeconds: 10 },
          });
          expect(r.status, JSON.stringify(r.body)).toBe(201);
          return { slot: `b${i}`, token: r.body.token as string, secret: r.body.secret as string };
        }),
      );
      const sizes = await svc.services.metrics.etcdTxnBatchSize.get();
      const count = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_count');
      const sum = sizes.values.find(v => v.metricName === 'slotlock_etcd_txn_batch_size_sum');
      expect(sum?.value).toBe(40);
      // Grants arrive while earlier calls are out, so some calls carried several acquires.
      expect(count?.value).toBeLessThan(40);
      for (const g of grants) {
        const check = await call(svc.url, 'GET', `/v1/slots/${g.slot}/tokens/${g.token}`);
        expect(check.body.current).toBe(true);
      }
      // A second acquire of each slot is refused: every slot has exactly its one holder.
      const busy = await call(svc.url, 'POST', `/v1/slots/b7/grants`, {
        body: { holder: 'late', ttlSeconds: 10 },
      });
      expect(busy.status).toBe(409);
      const released = await Promise.all(
        grants.map(g =>
          call(svc.url, 'DELETE', `/v1/slots/${g.slot}/grants/${g.token}`, {
            headers: { 'slotlock-secret': g.secret },
          }),
        ),
      );
      expect(released.every(r => r.status === 204)).toBe(true);
    } finally {
      await svc.close();
    }
  });
});
