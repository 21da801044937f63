/**
 * The background keepalive shared by grants, sessions and leaderships: renew every TTL/3, retry
 * transient failures until the local deadline, and abort `signal` the moment the holder must
 * stop acting as holder.
 */
import { backoffMs, delay, isAborted, type RetryPolicy } from './backoff.js';
import { isTransient, SlotlockError } from './errors.js';
import { MonotonicDeadline, monotonicNow } from './monotonic-deadline.js';

/** A confirmation of the lease: when its request was sent and the time the server reported left. */
export interface Confirmation {
  sentAt: number;
  expiresInMs: number;
}

/** What a {@link Heartbeat} needs. */
export interface HeartbeatOptions {
  /** Names the thing kept alive in error messages, e.g. `grant 42 of slot "driver:7"`. */
  what: string;
  ttlMs: number;
  /** The confirmation the holder got with the grant (or a later one). */
  first: Confirmation;
  /** Overrides the default safety margin (max(250 ms, 10 % of TTL)). */
  marginMs?: number | undefined;
  /** Backoff for transient keepalive failures (retries are bounded by the deadline, not a count). */
  retry: RetryPolicy;
  /** Sends one keepalive and resolves with the server's `expiresInMs`. */
  renew(signal: AbortSignal): Promise<number>;
}

/**
 * Keeps one lease alive in the background. `signal` aborts, with a {@link SlotlockError} as its
 * reason, when the local deadline passes before a keepalive confirmed the lease
 * (`deadline_passed`), when the server says the lease is gone or not ours (`grant_gone`,
 * `not_holder`, ...), or when {@link Heartbeat.stop} is called. Once aborted it stays aborted.
 * Its timers keep the process alive while the lease is held (a worker that only awaits `signal`
 * must not exit silently); once lost or stopped no timer is left. The loop never rejects.
 */
export class Heartbeat {
  private readonly lost = new AbortController();
  private readonly deadline: MonotonicDeadline;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lastFailure: unknown;
  private readonly loop: Promise<void>;

  constructor(private readonly opts: HeartbeatOptions) {
    this.deadline = new MonotonicDeadline(opts.ttlMs, opts.first, opts.marginMs);
    this.armDeadline();
    this.loop = this.run();
  }

  /** Aborted once the holder must stop acting as holder; `reason` says why. */
  get signal(): AbortSignal {
    return this.lost.signal;
  }

  /** The safety margin in use, in ms. */
  get marginMs(): number {
    return this.deadline.marginMs;
  }

  /** Local time left, in whole ms, before the holder must stop acting as holder (0 once lost). */
  remainingMs(): number {
    return this.lost.signal.aborted ? 0 : Math.floor(this.deadline.remainingMs());
  }

  /**
   * Calls `listener` with the loss reason once `signal` aborts (at once, in a microtask, if it
   * already has). Returns a function that removes the listener. An exception thrown by the
   * listener is not caught: it surfaces as an uncaught exception, never silently.
   */
  onLost(listener: (reason: SlotlockError) => void): () => void {
    const signal = this.lost.signal;
    const call = () => {
      listener(signal.reason as SlotlockError);
    };
    if (signal.aborted) {
      queueMicrotask(call);
      return () => undefined;
    }
    signal.addEventListener('abort', call, { once: true });
    return () => {
      signal.removeEventListener('abort', call);
    };
  }

  /**
   * Throws the loss reason if the holder must stop acting as holder. Reads the monotonic clock
   * itself rather than trusting the deadline timer, which fires late after a process pause.
   */
  assertAlive(): void {
    if (!this.lost.signal.aborted && this.deadline.passed()) this.lose(this.deadlineError());
    if (this.lost.signal.aborted) throw this.lost.signal.reason;
  }

  /** Stops renewing and aborts `signal` with `reason` (if not aborted yet); waits for the loop. */
  async stop(reason: SlotlockError): Promise<void> {
    this.lose(reason);
    await this.loop;
  }

  private lose(reason: unknown): void {
    clearTimeout(this.deadlineTimer);
    if (!this.lost.signal.aborted) this.lost.abort(reason);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    if (this.lost.signal.aborted) return;
    this.deadlineTimer = setTimeout(() => {
      if (this.deadline.passed()) this.lose(this.deadlineError());
      else this.armDeadline();
    }, this.deadline.remainingMs());
  }

  private deadlineError(): SlotlockError {
    return new SlotlockError({
      code: 'deadline_passed',
      status: 0,
      detail:
        `no keepalive confirmed ${this.opts.what} before its local deadline ` +
        `(TTL minus a ${this.deadline.marginMs} ms safety margin); assume it is lost`,
      cause: this.lastFailure,
    });
  }

  private async run(): Promise<void> {
    const stop = this.lost.signal;
    try {
      while (!stop.aborted) {
        const pause = Math.min(this.opts.ttlMs / 3, this.deadline.remainingMs() / 2);
        if (!(await delay(pause, stop))) return;
        await this.renewUntilDeadline(stop);
      }
    } catch (err) {
      // Defensive: renew() is expected to throw only SlotlockErrors, handled below.
      this.lose(err);
    }
  }

  /** One renewal, retried on transient failures until it succeeds, fails for good, or time runs out. */
  private async renewUntilDeadline(stop: AbortSignal): Promise<void> {
    for (let attempt = 0; !stop.aborted; attempt++) {
      const sentAt = monotonicNow();
      try {
        const expiresInMs = await this.opts.renew(stop);
        if (isAborted(stop)) return;
        this.deadline.extend(sentAt, expiresInMs);
        this.lastFailure = undefined;
        this.armDeadline();
        return;
      } catch (err) {
        if (isAborted(stop)) return;
        if (!isTransient(err)) {
          this.lose(err);
          return;
        }
        this.lastFailure = err;
        if (this.deadline.passed()) {
          this.lose(this.deadlineError());
          return;
        }
        // Retry-After is not honoured here: a keepalive is tiny and losing the lease is worse.
        const cap = Math.min(this.opts.ttlMs / 6, this.remainingMs());
        await delay(Math.min(backoffMs(attempt, this.opts.retry), cap), stop);
      }
    }
  }
}
