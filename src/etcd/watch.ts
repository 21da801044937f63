import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { toKeyValue, type KeyValue } from './store.js';
import { WatchLostError } from './errors.js';

/** One change to a key, as seen by a watch. `revision` is the change's own revision. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  revision: string;
  kv: KeyValue;
  prev: KeyValue | undefined;
}

/** What a watch yields: batches of events in revision order, and connection changes. */
export type WatchItem =
  | { type: 'events'; revision: string; events: WatchEvent[] }
  | { type: 'disconnected'; error: Error }
  | { type: 'connected' };

export { WatchLostError };

/**
 * Watches every key under `prefix` from `fromRevision` (inclusive) as an AsyncIterable. The
 * underlying client resumes after reconnects from the last revision it delivered, so no change
 * is skipped; if etcd compacted past that point the iterator throws {@link WatchLostError}.
 * Ending the loop or aborting `signal` cancels the watch.
 */
export async function* watchPrefix(
  client: Etcd3,
  prefix: string,
  fromRevision: string,
  opts: { signal?: AbortSignal | undefined } = {},
): AsyncGenerator<WatchItem> {
  const queue: (WatchItem | { type: 'error'; error: Error })[] = [];
  let wake: (() => void) | undefined;
  const push = (item: WatchItem | { type: 'error'; error: Error }) => {
    queue.push(item);
    wake?.();
  };
  const watcher: Watcher = await client
    .watch()
    .prefix(prefix)
    .startRevision(fromRevision)
    .withPreviousKV()
    .create();
  watcher.on('data', res => {
    if (res.events.length === 0) return;
    const events = res.events.map(e => toEvent(e.type, e.kv, e.prev_kv));
    const last = events[events.length - 1];
    push({ type: 'events', revision: last?.revision ?? res.header.revision, events });
  });
  watcher.on('disconnected', err => {
    push({ type: 'disconnected', error: err });
  });
  watcher.on('connected', () => {
    push({ type: 'connected' });
  });
  watcher.on('error', err => {
    push({ type: 'error', error: err });
  });
  const onAbort = () => {
    wake?.();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (opts.signal?.aborted !== true) {
      const item = queue.shift();
      if (item === undefined) {
        await new Promise<void>(resolve => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      if (item.type === 'error') {
        throw new WatchLostError(
          `the watch on ${prefix} was lost: ${item.error.message}`,
          item.error,
        );
      }
      yield item;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await watcher.cancel().catch(() => undefined);
  }
}

function toEvent(
  type: 'Put' | 'Delete' | number,
  kv: IKeyValue,
  prev: IKeyValue | null | undefined,
): WatchEvent {
  const value = toKeyValue(kv);
  const isDelete = type === 'Delete' || type === 1;
  return {
    type: isDelete ? 'delete' : 'put',
    key: value.key,
    revision: value.modRevision,
    kv: value,
    prev: prev === undefined || prev === null ? undefined : toKeyValue(prev),
  };
}
