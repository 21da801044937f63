/**
 * Reads etcd's revision history for `slotlock verify`, read-only, with the `etcd3` package (an
 * optional peer dependency of the CLI, loaded only by this command): the keys of a prefix at one
 * revision, then every event from the next revision up to etcd's head at the start.
 */
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions, IWatchResponse } from 'etcd3';
import type { HistoryEvent } from './audit.js';

/** Where etcd is and how to log in (the service's ETCD_* variables). */
export interface EtcdTarget {
  endpoints: string[];
  env: NodeJS.ProcessEnv;
}

/** Thrown when history before the start revision was compacted away. */
export class CompactedError extends Error {
  override readonly name = 'CompactedError';
  constructor(readonly compactRevision: bigint) {
    super(`etcd compacted its history up to revision ${compactRevision}`);
  }
}

/** Connects with the `etcd3` package, or explains how to install it. */
export async function connect(target: EtcdTarget): Promise<Etcd3> {
  let mod: typeof import('etcd3');
  try {
    mod = await import('etcd3');
  } catch (cause) {
    throw new Error(
      'verify reads etcd with the etcd3 package, which is not installed: npm install etcd3',
      { cause },
    );
  }
  const e = target.env;
  const opts: IOptions = { hosts: target.endpoints, dialTimeout: 5_000 };
  if (e.ETCD_USERNAME !== undefined && e.ETCD_PASSWORD !== undefined) {
    opts.auth = { username: e.ETCD_USERNAME, password: e.ETCD_PASSWORD };
  }
  if (e.ETCD_CA_FILE !== undefined) {
    opts.credentials = {
      rootCertificate: readFileSync(e.ETCD_CA_FILE),
      ...(e.ETCD_KEY_FILE === undefined ? {} : { privateKey: readFileSync(e.ETCD_KEY_FILE) }),
      ...(e.ETCD_CERT_FILE === undefined ? {} : { certChain: readFileSync(e.ETCD_CERT_FILE) }),
    };
  }
  return new mod.Etcd3(opts);
}

/** etcd's current revision. */
export async function headRevision(client: Etcd3): Promise<bigint> {
  const res = await client.kv.range({ key: Buffer.from([0]), count_only: true });
  return BigInt(res.header.revision);
}

/** The keys under `prefix` as they were at `revision`, as puts (throws if compacted). */
export async function snapshot(
  client: Etcd3,
  prefix: string,
  revision: bigint,
): Promise<HistoryEvent[]> {
  try {
    const res = await client.kv.range({
      key: Buffer.from(prefix),
      range_end: prefixEnd(prefix),
      revision: revision.toString(),
    });
    return res.kvs.map(kv => ({
      type: 'put',
      key: kv.key.toString(),
      revision,
      createRevision: BigInt(kv.create_revision),
      value: kv.value.toString(),
    }));
  } catch (err) {
    const m = /compacted.*?(\d+)?$/i.exec(err instanceof Error ? err.message : '');
    if (m !== null) throw new CompactedError(BigInt(m[1] ?? '0'));
    throw err;
  }
}

/**
 * Every event under `prefix` from revision `from` to `to` (inclusive), grouped by revision in
 * order. It watches the whole keyspace and keeps the prefix: every revision carries at least one
 * event, so the event at `to` marks the end of the history even when the prefix is quiet. Fails
 * when etcd says nothing for `idleMs`.
 */
export async function* history(
  client: Etcd3,
  prefix: string,
  from: bigint,
  to: bigint,
  idleMs = 15_000,
): AsyncGenerator<{ revision: bigint; events: HistoryEvent[] }> {
  const stream = await client.watchClient.watch();
  const queue: (IWatchResponse | Error)[] = [];
  let wake: (() => void) | undefined;
  const push = (item: IWatchResponse | Error) => {
    queue.push(item);
    wake?.();
  };
  stream.on('data', push);
  stream.on('error', push);
  stream.on('end', () => {
    push(new Error('etcd ended the watch stream'));
  });
  stream.write({
    create_request: {
      key: Buffer.from([0]),
      range_end: Buffer.from([0]),
      start_revision: from.toString(),
      fragment: true,
    },
  });
  try {
    let pending: HistoryEvent[] = [];
    let current = from - 1n;
    for (;;) {
      const item =
        queue.shift() ??
        (await next(
          () => queue.shift(),
          r => (wake = r),
          idleMs,
        ));
      if (item instanceof Error) throw item;
      if (item.canceled) {
        const compacted = BigInt(item.compact_revision || '0');
        if (compacted > 0n) throw new CompactedError(compacted);
        throw new Error(`etcd cancelled the watch: ${item.cancel_reason}`);
      }
      for (const e of item.events) {
        const revision = BigInt(e.kv.mod_revision);
        if (revision !== current && pending.length > 0) {
          yield { revision: current, events: pending };
          pending = [];
        }
        current = revision;
        const key = e.kv.key.toString();
        if (!key.startsWith(prefix)) continue;
        pending.push({
          type: e.type === 'Put' ? 'put' : 'delete',
          key,
          revision,
          createRevision: BigInt(e.kv.create_revision || '0'),
          value: e.kv.value.toString(),
        });
      }
      if (!item.created && !item.fragment && current >= to) {
        if (pending.length > 0) yield { revision: current, events: pending };
        return;
      }
    }
  } finally {
    stream.cancel();
  }
}

async function next(
  take: () => IWatchResponse | Error | undefined,
  setWake: (wake: (() => void) | undefined) => void,
  idleMs: number,
): Promise<IWatchResponse | Error> {
  for (;;) {
    const got = take();
    if (got !== undefined) return got;
    let timer: NodeJS.Timeout | undefined;
    const woke = await new Promise<boolean>(resolve => {
      setWake(() => {
        resolve(true);
      });
      timer = setTimeout(() => {
        resolve(false);
      }, idleMs);
    });
    clearTimeout(timer);
    setWake(undefined);
    if (!woke) return new Error(`etcd sent nothing for ${idleMs} ms`);
  }
}

/** The exclusive end of the range of keys starting with `prefix` (etcd's "prefix end"). */
function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i];
    if (byte !== undefined && byte < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
