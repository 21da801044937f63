/** Helpers for client tests: waiting on events and conditions with deadlines, recording fetch. */
import type { FetchLike } from '@slotlock/client';
export { until } from '../support/poll.js';

/** Resolves with the monotonic time `signal` aborted at; rejects if it has not within `withinMs`. */
export function abortedWithin(signal: AbortSignal, withinMs: number): Promise<number> {
  if (signal.aborted) return Promise.resolve(performance.now());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`signal did not abort within ${withinMs} ms`));
    }, withinMs);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(performance.now());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export /** One request seen by {@link recordingFetch}. */
interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  sentAt: number;
  status?: number;
  failed?: boolean;
}

/**
 * A fetch that records every request (send time on the monotonic clock, status or failure).
 * `dropFirstAnswerTo` simulates a connection reset after the server processed the request.
 */
export function recordingFetch(opts: { dropFirstAnswerTo?: RegExp } = {}): {
  fetch: FetchLike;
  sent: Sent[];
} {
  const sent: Sent[] = [];
  let dropped = false;
  const f: FetchLike = async (input, init) => {
    const rec: Sent = {
      method: init.method ?? 'GET',
      url: input,
      headers: { ...(init.headers as Record<string, string> | undefined) },
      sentAt: performance.now(),
    };
    sent.push(rec);
    try {
      const res = await fetch(input, init);
      rec.status = res.status;
      if (!dropped && opts.dropFirstAnswerTo?.test(`${rec.method} ${input}`) === true) {
        dropped = true;
        await res.arrayBuffer();
        throw new TypeError('fetch failed', {
          cause: new Error('simulated reset after processing'),
        });
      }
      return res;
    } catch (err) {
      rec.failed = true;
      throw err;
    }
  };
  return { fetch: f, sent };
}
