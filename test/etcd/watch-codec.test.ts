import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3, IEvent, IKeyValue, IWatchResponse } from 'etcd3';
import { connectEtcd } from '../../src/etcd/client.js';
import { prefixEnd } from '../../src/etcd/keys.js';
import { poolOf } from '../../src/etcd/pool.js';
import { toKeyValue } from '../../src/etcd/txn-wire.js';
import { WatchCall } from '../../src/etcd/watch-call.js';
import {
  decodeWatchResponse,
  encodeWatchRequest,
  type WatchEvent,
} from '../../src/etcd/watch-codec.js';
import { watchPrefix } from '../../src/etcd/watch.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';

/** etcd3's own (proto-loader) serializers for the Watch method: the reference codec. */
interface Etcd3WatchCodec {
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(res: object): Buffer;
  responseDeserialize(bytes: Buffer): IWatchResponse;
}

async function etcd3WatchCodec(client: Etcd3): Promise<Etcd3WatchCodec> {
  const pool = poolOf(client);
  return pool.withConnection<object, Etcd3WatchCodec>(
    'Watch',
    ({ client: grpcClient }) =>
      (grpcClient.constructor as unknown as { service: { Watch: Etcd3WatchCodec } }).service.Watch,
    pool.shuffledHosts(),
  );
}

/** An event as etcd3 reports it, in slotlock's shape (what watch.ts built before its codec). */
function fromEtcd3(e: IEvent): WatchEvent {
  const kv = toKeyValue(e.kv);
  const prev = e.prev_kv as IKeyValue | null;
  return {
    type: e.type === 'Delete' ? 'delete' : 'put',
    key: kv.key,
    revision: kv.modRevision,
    kv,
    // proto-loader leaves an absent message field null, whatever etcd3's types say.
    prev: prev === null ? undefined : toKeyValue(prev),
  };
}

const kv = (key: string, value: string, rev: number, lease = '0') => ({
  key: Buffer.from(key),
  value: Buffer.from(value),
  create_revision: String(rev),
  mod_revision: String(rev),
  version: '1',
  lease,
});

describe('slotlock’s own Watch wire codec', () => {
  let client: Etcd3;
  let reference: Etcd3WatchCodec;
  beforeAll(async () => {
    client = connectEtcd({ endpoints: etcdEndpoints(), callTimeoutMs: 3000, retryAfterS: 1 });
    reference = await etcd3WatchCodec(client);
  });
  afterAll(() => {
    client.close();
  });

  it('decodes a hand-made response with int64s past 2^53 as etcd3 does', () => {
    const lease = '7587876231654321234';
    const bytes = reference.responseSerialize({
      header: { revision: '9007199254740993' },
      watch_id: '9223372036854775807',
      fragment: true,
      events: [
        { type: 'Put', kv: kv('a/é', 'v1', 41, lease), prev_kv: kv('a/é', 'v0', 40, lease) },
        { type: 'Delete', kv: { key: Buffer.from('a/b'), mod_revision: '42' } },
      ],
    });
    const ours = decodeWatchResponse(bytes);
    expect(ours).toEqual({
      revision: '9007199254740993',
      watchId: '9223372036854775807',
      created: false,
      canceled: false,
      compactRevision: '0',
      cancelReason: '',
      fragment: true,
      events: reference.responseDeserialize(bytes).events.map(fromEtcd3),
    });
    expect(ours.events[0]).toMatchObject({ type: 'put', key: 'a/é', revision: '41' });
    expect(ours.events[0]?.kv.lease).toBe(lease);
    expect(ours.events[0]?.prev).toMatchObject({ value: 'v0', modRevision: '40', lease });
    expect(ours.events[1]).toMatchObject({ type: 'delete', key: 'a/b', revision: '42' });
    expect(ours.events[1]?.prev).toBeUndefined();
  });

  it('decodes created, and a cancel with its compact revision and reason', () => {
    const created = decodeWatchResponse(
      reference.responseSerialize({ header: { revision: '12' }, watch_id: '0', created: true }),
    );
    expect(created).toMatchObject({ created: true, canceled: false, revision: '12', events: [] });
    const canceled = decodeWatchResponse(
      reference.responseSerialize({
        header: { revision: '99' },
        watch_id: '3',
        canceled: true,
        compact_revision: '77',
        cancel_reason: 'mvcc: required revision has been compacted',
      }),
    );
    expect(canceled).toMatchObject({
      canceled: true,
      created: false,
      watchId: '3',
      compactRevision: '77',
      cancelReason: 'mvcc: required revision has been compacted',
    });
  });

  it('encodes create, cancel and progress requests that etcd3’s codec reads back', () => {
    const create = encodeWatchRequest({
      create: {
        key: Buffer.from('p/'),
        rangeEnd: prefixEnd('p/'),
        startRevision: '9007199254740993',
        progressNotify: true,
        filters: ['noPut', 'noDelete'],
        prevKv: true,
        watchId: '5',
        fragment: true,
      },
    });
    expect(reference.requestDeserialize(Buffer.from(create))).toMatchObject({
      request_union: 'create_request',
      create_request: {
        key: Buffer.from('p/'),
        range_end: prefixEnd('p/'),
        start_revision: '9007199254740993',
        progress_notify: true,
        filters: ['Noput', 'Nodelete'],
        prev_kv: true,
        watch_id: '5',
        fragment: true,
      },
    });
    expect(
      reference.requestDeserialize(Buffer.from(encodeWatchRequest({ cancel: '7' }))),
    ).toMatchObject({ request_union: 'cancel_request', cancel_request: { watch_id: '7' } });
    expect(
      reference.requestDeserialize(Buffer.from(encodeWatchRequest({ progress: true }))),
    ).toMatchObject({ request_union: 'progress_request', progress_request: {} });
  });

  it('reads the same events with prev_kv from real etcd as etcd3’s own watcher', async () => {
    const p = uniquePrefix('watch-codec');
    const lease = await client.lease(60, { autoKeepAlive: false }).grant();
    const first = (await client.put(`${p}a`).value('1').lease(lease).exec()).header.revision;
    await client.put(`${p}b`).value('é-ü').exec();
    await client.put(`${p}a`).value('2').lease(lease).exec();
    await client.kv.txn({
      compare: [],
      success: [
        { request_put: { key: Buffer.from(`${p}c`), value: Buffer.from('3') } },
        { request_delete_range: { key: Buffer.from(`${p}b`), prev_kv: true } },
      ],
      failure: [],
    });
    await client.delete().prefix(p).exec();
    const want = 7; // a, b, a, c + delete b, delete a + c

    const theirs: WatchEvent[] = [];
    const watcher = await client.watch().prefix(p).startRevision(first).withPreviousKV().create();
    const theirsDone = new Promise<void>(resolve => {
      watcher.on('data', (res: IWatchResponse) => {
        theirs.push(...res.events.map(fromEtcd3));
        if (theirs.length >= want) resolve();
      });
    });
    const ours: WatchEvent[] = [];
    const abort = AbortSignal.timeout(10_000);
    for await (const item of watchPrefix(client, p, first, { signal: abort })) {
      if (item.type === 'events') ours.push(...item.events);
      if (ours.length >= want) break;
    }
    await theirsDone;
    await watcher.cancel();

    expect(ours).toHaveLength(want);
    expect(ours).toEqual(theirs);
    expect(ours.map(e => `${e.type} ${e.key.slice(p.length)}`)).toEqual([
      'put a',
      'put b',
      'put a',
      'put c',
      'delete b',
      'delete a',
      'delete c',
    ]);
    expect(ours[2]?.prev).toMatchObject({ value: '1', lease });
    expect(ours[4]?.prev).toMatchObject({ value: 'é-ü' });
    await client.leaseClient.leaseRevoke({ ID: lease });
  });

  it('delivers a revision etcd splits into fragments as one batch', async () => {
    const p = uniquePrefix('watch-fragment');
    // Six 400 kB values: their deletes with prev_kv exceed etcd's 2 MiB watch response limit
    // (max-request-bytes 1.5 MiB + gRPC overhead), so etcd fragments that one revision.
    const big = 'x'.repeat(400_000);
    for (let i = 0; i < 6; i++) await client.put(`${p}k${i}`).value(big).exec();
    const deleted = (await client.delete().prefix(p).exec()).header.revision;
    const signal = AbortSignal.timeout(10_000);

    const call = await WatchCall.open(
      client,
      0,
      {
        key: Buffer.from(p),
        rangeEnd: prefixEnd(p),
        startRevision: deleted,
        prevKv: true,
        fragment: true,
      },
      true,
    );
    const flags: boolean[] = [];
    let events = 0;
    try {
      for await (const res of call.responses(signal)) {
        if (res.created) continue;
        flags.push(res.fragment);
        events += res.events.length;
        if (!res.fragment) break;
      }
    } finally {
      call.close();
    }
    expect(events).toBe(6);
    expect(flags.length).toBeGreaterThan(1);
    expect(flags.slice(0, -1).every(f => f)).toBe(true);

    let batch: WatchEvent[] = [];
    for await (const item of watchPrefix(client, p, deleted, { signal })) {
      if (item.type !== 'events') continue;
      expect(item.revision).toBe(deleted);
      batch = item.events;
      break;
    }
    expect(batch.map(e => [e.type, e.revision, e.prev?.value.length])).toEqual(
      Array.from({ length: 6 }, () => ['delete', deleted, big.length]),
    );
  });
});
