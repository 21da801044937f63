/**
 * The apply history of a fenced record, read back from etcd's own history (a watch from the run's
 * start revision), so the experiment checks what etcd applied rather than what workers claimed.
 */
import type { Etcd3 } from 'etcd3';
import { decodeFencedRecord } from '../src/domain/fencing/fencing.js';
import type { EtcdStore } from '../src/etcd/store.js';
import { watchPrefix } from '../src/etcd/watch.js';
import type { ResourceState } from './experiment-protocol.js';
import type { AppliedWrite } from './experiment-resource.js';

/** Every put of `key` after `fromRevision`, in revision order, and the final counter. */
export async function fencedHistory(
  etcd: Etcd3,
  store: EtcdStore,
  key: string,
  fromRevision: string,
  signal: AbortSignal,
): Promise<{ history: AppliedWrite[]; finalCounter: number }> {
  const now = await store.range({ key }, { signal });
  const last = now.kvs[0];
  if (last === undefined || BigInt(last.modRevision) <= BigInt(fromRevision)) {
    return { history: [], finalCounter: 0 };
  }
  const history: AppliedWrite[] = [];
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  for await (const item of watchPrefix(etcd, key, fromRevision, { signal: both })) {
    if (item.type !== 'events') continue;
    for (const e of item.events) {
      if (e.type !== 'put' || e.key !== key) continue;
      const body = decodeFencedRecord(e.kv);
      if (body === undefined) continue;
      const state = JSON.parse(body.value) as ResourceState;
      const writer = state.log[state.log.length - 1]?.writer ?? '?';
      history.push({ seq: e.revision, writer, token: body.token, counter: state.counter });
    }
    if (BigInt(item.revision) >= BigInt(last.modRevision)) stop.abort();
  }
  signal.throwIfAborted();
  return { history, finalCounter: history[history.length - 1]?.counter ?? 0 };
}
