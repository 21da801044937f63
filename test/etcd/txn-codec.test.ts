import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3, IKeyValue, IResponseOp } from 'etcd3';
import pb from 'protobufjs/minimal.js';
import { connectEtcd } from '../../src/etcd/client.js';
import { prefixEnd } from '../../src/etcd/keys.js';
import { EtcdStore, toKeyValue, type KeyValue, type Txn } from '../../src/etcd/store.js';
import { decodeTxnAnswer, encodeTxn } from '../../src/etcd/txn-codec.js';
import { sendTxn } from '../../src/etcd/txn-call.js';
import { createMetrics } from '../../src/metrics.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';

/** etcd3's own answer to a range op, in slotlock's key-value shape. */
function kvsOf(r: IResponseOp | undefined): KeyValue[] {
  const range = r?.response_range as { kvs: IKeyValue[] } | null | undefined;
  return (range?.kvs ?? []).map(toKeyValue);
}

describe('slotlock’s own Txn wire codec, against real etcd and etcd3’s codec', () => {
  let client: Etcd3;
  let store: EtcdStore;
  beforeAll(() => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 3000, retryAfterS: 1 });
    store = new EtcdStore(client, createMetrics({ defaultMetrics: false }), 1);
  });
  afterAll(() => {
    client.close();
  });

  it('reads back what etcd3 reads for every op and compare slotlock uses', async () => {
    const p = uniquePrefix('codec');
    const leaseHandle = client.lease(60, { autoKeepAlive: false });
    const lease = await leaseHandle.grant();
    await client.put(`${p}a`).value('é-1').lease(lease).exec();
    await client.put(`${p}b`).value('2').exec();
    await client.put(`${p}c`).value('3').exec();
    const a = await client.get(`${p}a`).exec();
    const createA = a.kvs[0]?.create_revision ?? '0';

    const txn: Txn = {
      compare: [
        { key: `${p}a`, target: 'create', op: '==', value: createA },
        { key: `${p}absent`, target: 'create', op: '==', value: '0' },
        { key: `${p}a`, target: 'value', op: '==', value: 'é-1' },
        { key: `${p}a`, target: 'lease', op: '==', value: lease },
        { key: `${p}b`, target: 'version', op: '>', value: '0' },
        { key: `${p}b`, target: 'mod', op: '!=', value: '1' },
        { key: `${p}c`, target: 'create', op: '<', value: '999999999999' },
      ],
      success: [
        { range: { prefix: p, sort: { target: 'create', order: 'desc' }, limit: 2 } },
        { range: { prefix: p, keysOnly: true } },
        { range: { prefix: p, countOnly: true } },
        { range: { prefix: p, minCreateRevision: createA, countOnly: true } },
        { put: { key: `${p}d`, value: 'new', lease } },
        { delete: { key: `${p}c` } },
        { range: { key: `${p}a` } },
      ],
      failure: [{ range: { prefix: p } }],
    };
    const ours = await store.txn(txn);
    expect(ours.succeeded).toBe(true);
    const [r0, r1, r2, r3, r4, r5, r6] = ours.results;
    expect(r0).toMatchObject({ kind: 'range', count: 3 });
    expect(r0?.kind === 'range' && r0.kvs.map(kv => kv.key)).toEqual([`${p}c`, `${p}b`]);
    expect(r1?.kind === 'range' && r1.kvs.map(kv => kv.value)).toEqual(['', '', '']);
    expect(r2).toEqual({ kind: 'range', kvs: [], count: 3 });
    expect(r3).toEqual({ kind: 'range', kvs: [], count: 3 });
    expect(r4).toEqual({ kind: 'put' });
    expect(r5).toEqual({ kind: 'delete', deleted: 1 });
    // Byte for byte what etcd3's own codec reads for the same key, including a lease ID that
    // does not fit a double.
    const theirs = await client.kv.txn({
      compare: [],
      success: [
        {
          request_range: {
            key: Buffer.from(`${p}a`),
          },
        },
      ],
      failure: [],
    });
    expect(r6?.kind === 'range' && r6.kvs).toEqual(kvsOf(theirs.responses[0]));
    expect(r6?.kind === 'range' && r6.kvs[0]?.lease).toBe(lease);
    const d = await client.get(`${p}d`).exec();
    expect(d.kvs[0]?.lease).toBe(lease);
    expect(BigInt(ours.revision)).toBe(BigInt(d.header.revision));

    // The failure branch runs when one compare is false.
    const failed = await store.txn({
      compare: [{ key: `${p}absent`, target: 'create', op: '>', value: '0' }],
      success: [],
      failure: [{ range: { prefix: p, sort: { target: 'key', order: 'asc' } } }],
    });
    expect(failed.succeeded).toBe(false);
    expect(failed.results[0]?.kind === 'range' && failed.results[0].kvs.map(k => k.key)).toEqual([
      `${p}a`,
      `${p}b`,
      `${p}d`,
    ]);
    await client.delete().prefix(p).exec();
    await leaseHandle.revoke();
  });

  it('sends a raw batch of nested transactions and reads each member’s answer', async () => {
    const p = uniquePrefix('codec-batch');
    const member = (k: string): Uint8Array =>
      encodeTxn({
        compare: [{ key: k, target: 'create', op: '==', value: '0' }],
        success: [{ put: { key: k, value: 'x' } }, { range: { key: k } }],
      });
    const w = pb.Writer.create();
    for (const m of [member(`${p}1`), member(`${p}2`)]) {
      w.uint32(18).fork().uint32(34).bytes(m).ldelim();
    }
    const answer = await sendTxn(client, w.finish(), Date.now() + 3000);
    expect(answer.succeeded).toBe(true);
    expect(answer.responses.map(r => r.kind)).toEqual(['txn', 'txn']);
    const first = answer.responses[0];
    expect(first?.kind === 'txn' && first.txn.responses[1]).toMatchObject({
      kind: 'range',
      count: '1',
      kvs: [{ key: `${p}1`, value: 'x', version: '1', lease: '0' }],
    });
    await client.delete().prefix(p).exec();
  });

  it('reads ranges through its own KV/Range codec like etcd3 does', async () => {
    const p = uniquePrefix('codec-range');
    await client.put(`${p}a`).value('1').exec();
    const b = await client.put(`${p}b`).value('2').exec();
    await client.put(`${p}c`).value('3').exec();
    const all = await store.range({ prefix: p });
    const theirs = await client.getAll().prefix(p).exec();
    expect(all.kvs).toEqual(theirs.kvs.map(toKeyValue));
    expect(all.count).toBe(3);
    expect(BigInt(all.revision)).toBeGreaterThanOrEqual(BigInt(theirs.header.revision));
    expect(await store.range({ prefix: p, countOnly: true })).toMatchObject({ kvs: [], count: 3 });
    // A create-revision filter counts the keys returned (etcd counts before filtering).
    const after = await store.range({
      prefix: p,
      minCreateRevision: b.header.revision,
      countOnly: true,
    });
    expect(after.count).toBe(2);
    const one = await store.range({ key: `${p}b` });
    expect(one.kvs.map(kv => kv.value)).toEqual(['2']);
    await client.delete().prefix(p).exec();
  });

  it('grants and revokes leases through its own LeaseGrant/LeaseRevoke codec', async () => {
    const id = await store.leaseGrant(30);
    expect(BigInt(id)).toBeGreaterThan(0n);
    const live = await client.leaseClient.leaseTimeToLive({ ID: id });
    expect(Number(live.grantedTTL)).toBe(30);
    expect(await store.leaseRevoke(id)).toBe(true);
    const gone = await client.leaseClient.leaseTimeToLive({ ID: id });
    expect(gone.TTL).toBe('-1');
    // A lease already gone is not an error: the revoke answers false.
    expect(await store.leaseRevoke(id)).toBe(false);
  });

  it('decodes int64 values beyond 2^53 and negative ones exactly', () => {
    const big = '9223372036854775807';
    const w = pb.Writer.create();
    w.uint32(10).fork().uint32(24).int64(big).ldelim(); // header.revision
    w.uint32(16).bool(true);
    w.uint32(26).fork(); // responses[0]
    w.uint32(10).fork(); // response_range
    w.uint32(18).fork().uint32(10).string('k').uint32(48).int64('7587876231654321234').ldelim();
    w.uint32(32).int64(-1);
    w.ldelim().ldelim();
    const answer = decodeTxnAnswer(w.finish());
    expect(answer.header.revision).toBe(big);
    expect(answer.responses[0]).toEqual({
      kind: 'range',
      count: '-1',
      kvs: [
        {
          key: 'k',
          value: '',
          createRevision: '0',
          modRevision: '0',
          version: '0',
          lease: '7587876231654321234',
        },
      ],
    });
  });

  it('encodes int64 strings beyond 2^53 exactly (lease IDs)', () => {
    for (const lease of ['7587876231654321234', '9223372036854775807', '9007199254740993']) {
      const bytes = encodeTxn({
        compare: [{ key: 'k', target: 'lease', op: '==', value: lease }],
        success: [],
      });
      const r = pb.Reader.create(bytes);
      expect(r.uint32()).toBe(10); // compare
      r.uint32(); // its length
      expect(r.uint32()).toBe(16); // target
      expect(r.uint32()).toBe(4); // Lease
      expect(r.uint32()).toBe(26); // key
      expect(r.string()).toBe('k');
      expect(r.uint32()).toBe(64); // lease = 8, varint
      const long = r.int64() as { toString(): string };
      expect(long.toString()).toBe(lease);
    }
  });

  it('encodes a prefix as key and range end like etcd3 does', () => {
    const bytes = encodeTxn({ compare: [], success: [{ delete: { prefix: 'p/' } }] });
    const r = pb.Reader.create(bytes);
    expect(r.uint32()).toBe(18);
    r.uint32(); // RequestOp length
    expect(r.uint32()).toBe(26);
    r.uint32(); // DeleteRangeRequest length
    expect(r.uint32()).toBe(10);
    expect(r.string()).toBe('p/');
    expect(r.uint32()).toBe(18);
    expect(Buffer.from(r.bytes())).toEqual(prefixEnd('p/'));
  });
});
