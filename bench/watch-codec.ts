/**
 * Client-side CPU of decoding etcd's watch responses: etcd3's proto-loader deserializer plus the
 * conversion watch.ts used to do (`toObject`, a `Long` per int64, then slotlock's KeyValue strings)
 * against slotlock's own codec (`src/etcd/watch-codec.ts`). The responses are real: captured raw
 * from a private etcd while a handover-shaped sequence runs (per handover: the holder's key
 * deleted, the next waiter's key rewritten as holder, a record put; leased keys, prev_kv on).
 * Run: `npx tsx bench/watch-codec.ts` (about 15 s). Rounds alternate between the two decoders so
 * both see the same background load; prints CPU µs per response and per event.
 */
import { deepStrictEqual } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IWatchResponse } from 'etcd3';
import { connectEtcd } from '../src/etcd/client.js';
import { prefixEnd } from '../src/etcd/keys.js';
import { poolOf, type GrpcMetadata } from '../src/etcd/pool.js';
import { toKeyValue } from '../src/etcd/txn-wire.js';
import {
  decodeWatchResponse,
  encodeWatchRequest,
  type WatchEvent,
} from '../src/etcd/watch-codec.js';
import { startEtcdMember } from '../src/embedded-etcd/index.js';

const HANDOVERS = 300;

interface RawStream {
  write(bytes: Buffer): boolean;
  cancel(): void;
  on(event: 'data', fn: (bytes: Buffer) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
}
interface RawClient {
  constructor: { service: { Watch: { responseDeserialize(bytes: Buffer): IWatchResponse } } };
  makeBidiStreamRequest(
    method: string,
    serialize: (b: Buffer) => Buffer,
    deserialize: (b: Buffer) => Buffer,
    metadata: GrpcMetadata,
    options: object,
  ): RawStream;
}

const dir = mkdtempSync(join(tmpdir(), 'slotlock-watch-codec-'));
const member = await startEtcdMember({ name: 'watch-codec', dataDir: join(dir, 'etcd') });
const client = connectEtcd({ endpoints: [member.clientUrl], callTimeoutMs: 5000, retryAfterS: 1 });

/** etcd3's decoder, and the raw bytes of every response a prefix watch received. */
async function capture(): Promise<{ theirs: (b: Buffer) => IWatchResponse; raw: Buffer[] }> {
  const prefix = 'slotlock/s/slots/dispatch-zone-7/';
  const start = (await client.get('\0').exec()).header.revision;
  const pool = poolOf(client);
  const { stream, theirs } = await pool.withConnection<
    RawClient,
    { stream: RawStream; theirs: (b: Buffer) => IWatchResponse }
  >(
    'Watch',
    ({ client: grpc, metadata }) => ({
      stream: grpc.makeBidiStreamRequest(
        '/etcdserverpb.Watch/Watch',
        b => b,
        b => b,
        metadata,
        {},
      ),
      theirs: b => grpc.constructor.service.Watch.responseDeserialize(b),
    }),
    pool.shuffledHosts(),
  );
  const raw: Buffer[] = [];
  let events = 0;
  const done = new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('data', bytes => {
      raw.push(bytes);
      events += decodeWatchResponse(bytes).events.length;
      if (events >= 3 * HANDOVERS) resolve();
    });
  });
  stream.write(
    Buffer.from(
      encodeWatchRequest({
        create: {
          key: Buffer.from(prefix),
          rangeEnd: prefixEnd(prefix),
          startRevision: String(BigInt(start) + 1n),
          prevKv: true,
          progressNotify: true,
          fragment: true,
        },
      }),
    ),
  );
  const lease = await client.lease(600, { autoKeepAlive: false }).grant();
  const record = (i: number) =>
    JSON.stringify({ holder: `driver-${i}`, token: String(1000 + i), at: Date.now(), ttlS: 30 });
  await client.put(`${prefix}w/0`).value(record(0)).lease(lease).exec();
  for (let i = 1; i <= HANDOVERS; i++) {
    await client
      .delete()
      .key(`${prefix}w/${i - 1}`)
      .exec();
    await client.put(`${prefix}w/${i}`).value(record(i)).lease(lease).exec();
    await client.put(`${prefix}r`).value(record(i)).exec();
  }
  await done;
  stream.cancel();
  return { theirs, raw: raw.filter(b => decodeWatchResponse(b).events.length > 0) };
}

/** What watch.ts did with each response before its own codec. */
function etcd3Path(res: IWatchResponse): WatchEvent[] {
  return res.events.map(e => {
    const kv = toKeyValue(e.kv);
    const prev = e.prev_kv as typeof e.prev_kv | null;
    return {
      type: e.type === 'Delete' ? 'delete' : 'put',
      key: kv.key,
      revision: kv.modRevision,
      kv,
      prev: prev === null ? undefined : toKeyValue(prev),
    };
  });
}

function measure(decode: (b: Buffer) => WatchEvent[], raw: Buffer[], ms: number) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let responses = 0;
  let events = 0;
  while (performance.now() - t0 < ms) {
    for (const b of raw) events += decode(b).length;
    responses += raw.length;
  }
  const cpu = process.cpuUsage(cpu0);
  return { responses, events, cpuUs: cpu.user + cpu.system };
}

try {
  const { theirs, raw } = await capture();
  const subjects = {
    'etcd3 proto-loader': (b: Buffer) => etcd3Path(theirs(b)),
    'slotlock codec': (b: Buffer) => decodeWatchResponse(b).events,
  };
  // Both decoders read the same events, or the comparison means nothing.
  for (const b of raw)
    deepStrictEqual(subjects['slotlock codec'](b), subjects['etcd3 proto-loader'](b));
  const bytes = raw.reduce((n, b) => n + b.length, 0);
  console.log(
    `${raw.length} responses with events captured, ${(bytes / raw.length).toFixed(0)} B each`,
  );
  const sum = new Map<string, { responses: number; events: number; cpuUs: number }>();
  for (const run of Object.values(subjects)) measure(run, raw, 500); // warm-up
  for (let round = 0; round < 6; round++) {
    const names = Object.keys(subjects) as (keyof typeof subjects)[];
    if (round % 2 === 1) names.reverse();
    for (const name of names) {
      const m = measure(subjects[name], raw, 1000);
      const acc = sum.get(name) ?? { responses: 0, events: 0, cpuUs: 0 };
      sum.set(name, {
        responses: acc.responses + m.responses,
        events: acc.events + m.events,
        cpuUs: acc.cpuUs + m.cpuUs,
      });
    }
  }
  for (const [name, m] of sum) {
    console.log(
      `${name.padEnd(18)}: ${(m.cpuUs / m.responses).toFixed(2).padStart(6)} µs CPU/response, ${(m.cpuUs / m.events).toFixed(2).padStart(6)} µs CPU/event`,
    );
  }
} finally {
  client.close();
  await member.stop();
  rmSync(dir, { recursive: true, force: true });
}
