import type { Etcd3 } from 'etcd3';
import { setTimeout as sleep } from 'node:timers/promises';
import { WatchLostError } from './errors.js';
import { prefixEnd } from './keys.js';
import { forgetAuthToken, hostCount } from './pool.js';
import { WatchCall } from './watch-call.js';
import type { WatchAnswer, WatchEvent } from './watch-codec.js';

export type { WatchEvent };

/**
 * What a watch yields: batches of events in revision order (`revision`: the last event's),
 * progress (every change under the prefix up to `revision` was delivered), and connection changes.
 */
export type WatchItem =
  | { type: 'events'; revision: string; events: WatchEvent[] }
  | { type: 'progress'; revision: string }
  | { type: 'disconnected'; error: Error }
  | { type: 'connected' };

/** Why a watch call was re-created: a dropped stream, or a member that lost its leader. */
export type WatchRestartReason = 'disconnected' | 'no_leader';

export { WatchLostError };

export interface WatchOptions {
  signal?: AbortSignal | undefined;
  /** Called each time the watch call is re-created after a failure (for metrics). */
  onRestart?: ((reason: WatchRestartReason, err: Error) => void) | undefined;
  /**
   * Send `hasleader=true` so that a member cut off from the quorum cancels the watch and it
   * moves to another member (default true; the Go client's WithRequireLeader).
   */
  requireLeader?: boolean | undefined;
  /**
   * A call etcd has not confirmed ("created") within this time is given up and tried on the next
   * member (default 3000 ms): a call can wait unbounded on a member that cannot be reached.
   */
  createTimeoutMs?: number | undefined;
  /**
   * Deliver each event's previous key-value (default true). etcd reads it from its store for every
   * put over an existing key and every delete, so a watch whose consumers never look at `prev`
   * should turn it off.
   */
  prevKv?: boolean | undefined;
}

const BACKOFF_FIRST_MS = 50;
const BACKOFF_MAX_MS = 1000;
const CREATE_TIMEOUT_MS = 3000;

/**
 * Watches every key under `prefix` from `fromRevision` (inclusive) as an AsyncIterable. The resume
 * revision is ours: the last delivered event's revision + 1 (a progress notification moves it only
 * once the catch-up of the current call is delivered), and after a dropped call the watch is
 * created again from there on the next member, as etcd's Go client does, so no change is skipped
 * or repeated. If etcd compacted past that revision the iterator throws {@link WatchLostError}: the
 * caller re-reads and watches again. Ending the loop or aborting `signal` closes the call at once.
 */
export async function* watchPrefix(
  client: Etcd3,
  prefix: string,
  fromRevision: string,
  opts: WatchOptions = {},
): AsyncGenerator<WatchItem> {
  const { signal } = opts;
  const aborted = () => signal?.aborted === true;
  let next = BigInt(fromRevision);
  let host = Math.floor(Math.random() * hostCount(client));
  let backoff = BACKOFF_FIRST_MS;
  let up = true;
  while (!aborted()) {
    let call: WatchCall | undefined;
    try {
      call = await WatchCall.open(
        client,
        host,
        {
          key: Buffer.from(prefix),
          rangeEnd: prefixEnd(prefix),
          startRevision: next.toString(),
          prevKv: opts.prevKv ?? true,
          progressNotify: true,
          fragment: true,
        },
        opts.requireLeader ?? true,
      );
      /** Events up to the create response's revision may still be on their way (catch-up). */
      let catchUpTo = next - 1n;
      let fragments: WatchEvent[] = [];
      let created = false;
      const opened = call;
      const createTimeoutMs = opts.createTimeoutMs ?? CREATE_TIMEOUT_MS;
      const timer = setTimeout(() => {
        if (!created) opened.close();
      }, createTimeoutMs);
      timer.unref();
      for await (const res of call.responses(signal)) {
        if (res.canceled) throw cancelError(res, prefix, next);
        if (res.created) {
          created = true;
          clearTimeout(timer);
          catchUpTo = BigInt(res.revision);
          backoff = BACKOFF_FIRST_MS;
          up = true;
          yield { type: 'connected' };
          continue;
        }
        for (const event of res.events) fragments.push(event);
        if (res.fragment) continue;
        const events = fragments;
        fragments = [];
        const last = events[events.length - 1];
        if (last !== undefined) {
          next = BigInt(last.revision) + 1n;
          yield { type: 'events', revision: last.revision, events };
        } else if (next > catchUpTo) {
          const revision = BigInt(res.revision);
          if (revision >= next) {
            next = revision + 1n;
            yield { type: 'progress', revision: revision.toString() };
          }
        }
      }
      clearTimeout(timer);
      if (aborted()) return;
      throw new Error(
        created
          ? 'the watch call ended'
          : `etcd did not create the watch within ${createTimeoutMs} ms`,
      );
    } catch (err) {
      if (err instanceof WatchLostError) throw err;
      if (aborted()) return;
      const error = err instanceof Error ? err : new Error(String(err));
      opts.onRestart?.(isNoLeader(error) ? 'no_leader' : 'disconnected', error);
      if (error.message.includes('invalid auth token')) forgetAuthToken(client);
      if (up) {
        up = false;
        yield { type: 'disconnected', error };
      }
      // The next attempt goes to the next member: the one that failed may be cut off.
      host += 1;
      await sleep(backoff, undefined, { signal }).catch(() => undefined);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    } finally {
      call?.close();
    }
  }
}

function cancelError(res: WatchAnswer, prefix: string, next: bigint): Error {
  const compacted = BigInt(res.compactRevision);
  if (compacted > 0n) {
    return new WatchLostError(
      `the watch on ${prefix} cannot resume at revision ${next}: etcd compacted up to ${compacted}`,
    );
  }
  return new Error(`etcd cancelled the watch on ${prefix}: ${res.cancelReason || 'no reason'}`);
}

function isNoLeader(err: Error): boolean {
  return err.message.includes('no leader');
}
