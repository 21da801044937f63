/**
 * Leader observation over SSE as an AsyncIterable: reconnects after a dropped or idle connection
 * with backoff, resuming from `Last-Event-ID` (the etcd revision of the last event seen).
 */
import { backoffMs, delay, isAborted, type RetryPolicy } from './backoff.js';
import { isTransient, SlotlockError } from './errors.js';
import { segment, type Http } from './http.js';
import { readSse } from './sse.js';

/** The current leader of an election. */
export interface Leader {
  candidate: string;
  /** The value the leader proclaimed ('' if none). */
  value: string;
  /** Term token of the leader (decimal string). */
  token: string;
  /** Time left on the leader's lease as seen by the server. */
  expiresInMs: number;
}

/** `GET /v1/elections/{name}/leader`, and the data of each `leader` event. */
export interface LeaderChange {
  election: string;
  /** The leader at `revision`, or null when nobody leads. */
  leader: Leader | null;
  /** etcd revision of this state (decimal string). */
  revision: string;
}

/** Options of an observation. */
export interface ObserveOptions {
  election: string;
  /** Ends the iteration cleanly (no error) when aborted. */
  signal?: AbortSignal;
  /** Reconnect when nothing (not even a comment) arrives for this long (default 60 000 ms). */
  idleMs?: number;
}

/**
 * Yields the current leader state first, then every change. A dropped connection or a transient
 * error is retried forever with backoff and `Last-Event-ID`; events at or below the last seen
 * revision are skipped, so none is delivered twice. Other errors (bad name, 4xx) are thrown.
 */
export async function* observeLeader(
  http: Http,
  retry: RetryPolicy,
  opts: ObserveOptions,
): AsyncGenerator<LeaderChange> {
  const done = new AbortController();
  const stop =
    opts.signal === undefined ? done.signal : AbortSignal.any([opts.signal, done.signal]);
  const idleMs = opts.idleMs ?? 60_000;
  const path = `/v1/elections/${segment(opts.election)}/observe`;
  let lastId: string | undefined;
  let attempt = 0;
  try {
    while (!stop.aborted) {
      const idle = new IdleTimer(idleMs);
      try {
        const res = await http.open('GET', path, {
          headers: {
            accept: 'text/event-stream',
            ...(lastId === undefined ? {} : { 'last-event-id': lastId }),
          },
          signal: AbortSignal.any([stop, idle.signal]),
        });
        idle.touch();
        const body = res.body;
        if (body === null) throw unexpected('the observe answer has no body');
        for await (const ev of readSse(idle.watch(body))) {
          if (ev.event === 'error') throwIfFatal(ev.data);
          if (ev.event !== 'leader') continue;
          if (ev.id !== undefined && lastId !== undefined && !after(ev.id, lastId)) continue;
          if (ev.id !== undefined) lastId = ev.id;
          attempt = 0;
          yield parseChange(ev.data);
        }
      } catch (err) {
        if (isAborted(stop)) return;
        if (!idle.signal.aborted && !isTransient(err)) throw err;
      } finally {
        idle.clear();
      }
      if (!(await delay(backoffMs(attempt++, retry), stop))) return;
    }
  } finally {
    done.abort();
  }
}

/** True when revision `a` is later than `b` (decimal strings of int64). */
function after(a: string, b: string): boolean {
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return a !== b;
  }
}

/**
 * The server ends a stream with an `error` event when it fails after the 200 was sent. Input
 * errors are thrown to the consumer; anything else (etcd unavailable, draining) is retried.
 */
function throwIfFatal(data: string): void {
  let problem: { code?: unknown; detail?: unknown } = {};
  try {
    problem = JSON.parse(data) as typeof problem;
  } catch {
    // not JSON: treat as a transient failure
  }
  const code = typeof problem.code === 'string' ? problem.code : 'internal';
  const detail = typeof problem.detail === 'string' ? problem.detail : data;
  if (code === 'invalid_input' || code === 'not_found') {
    throw new SlotlockError({ code, status: 200, detail });
  }
}

function parseChange(data: string): LeaderChange {
  try {
    return JSON.parse(data) as LeaderChange;
  } catch (cause) {
    throw unexpected(`a leader event is not JSON: ${data.slice(0, 200)}`, cause);
  }
}

function unexpected(detail: string, cause?: unknown): SlotlockError {
  return new SlotlockError({ code: 'unexpected_response', status: 200, detail, cause });
}

/** Aborts its signal when no bytes arrived for `ms`; each chunk read through `watch` resets it. */
class IdleTimer {
  private readonly ctl = new AbortController();
  private handle: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  touch(): void {
    clearTimeout(this.handle);
    this.handle = setTimeout(() => {
      this.ctl.abort(
        new SlotlockError({
          code: 'unreachable',
          status: 0,
          detail: `the event stream was silent for ${this.ms} ms`,
        }),
      );
    }, this.ms);
  }

  clear(): void {
    clearTimeout(this.handle);
  }

  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, ctl) => {
          this.touch();
          ctl.enqueue(chunk);
        },
      }),
    );
  }
}
