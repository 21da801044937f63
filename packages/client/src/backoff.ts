/** Waiting helpers for the client: an abortable delay and capped exponential backoff. */
import { isTransient, SlotlockError } from './errors.js';

/** How a client retries transient failures. */
export interface RetryOptions {
  /** Retries after the first attempt (default 5). 0 disables retries. */
  retries?: number;
  /** First backoff in ms (default 100). */
  baseMs?: number;
  /** Largest backoff in ms (default 5 000). */
  maxMs?: number;
}

/** Retry options with every default filled in. */
export type RetryPolicy = Required<RetryOptions>;

/** Fills in the defaults of {@link RetryOptions}. */
export function retryPolicy(opts: RetryOptions = {}): RetryPolicy {
  return { retries: opts.retries ?? 5, baseMs: opts.baseMs ?? 100, maxMs: opts.maxMs ?? 5_000 };
}

/**
 * The wait before retry number `attempt` (0-based): "full jitter" exponential backoff, but never
 * shorter than the server's `Retry-After`.
 */
export function backoffMs(attempt: number, p: RetryPolicy, retryAfterS?: number): number {
  const ceiling = Math.min(p.maxMs, p.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = Math.max(p.baseMs / 2, Math.random() * ceiling);
  return Math.max(jittered, (retryAfterS ?? 0) * 1000);
}

/**
 * Resolves after `ms`, or early when `signal` aborts. Resolves `true` if the full time passed,
 * `false` if aborted; never rejects. The timer keeps the process alive while it runs: a retry or
 * keepalive in progress is work the caller is waiting for, and must not end in a silent exit.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise(resolve => {
    const onAbort = () => {
      clearTimeout(handle);
      resolve(false);
    };
    const handle = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` and retries it, with backoff, while it fails with a transient error (see
 * {@link isTransient}) and retries remain. Only safe for calls that are idempotent or carry an
 * Idempotency-Key. Throws the last error, or `signal.reason` once `signal` aborts.
 */
export async function retrying<T>(
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason;
      if (attempt >= policy.retries || !isTransient(err)) throw err;
      const retryAfterS = err instanceof SlotlockError ? err.retryAfterS : undefined;
      if (!(await delay(backoffMs(attempt, policy, retryAfterS), signal))) throw signal?.reason;
    }
  }
}

/**
 * Whether `signal` has aborted. A function call, so TypeScript does not carry a narrowing of
 * `signal.aborted` across awaits, where it may have changed.
 */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
