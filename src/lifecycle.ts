import { setMaxListeners } from 'node:events';
import { DomainError } from './domain/errors.js';

/**
 * Readiness and draining. `signal` aborts when shutdown begins, ending long-polls and SSE streams
 * with a 503 `draining` problem so clients retry on another replica.
 */
export class Lifecycle {
  private readonly controller = new AbortController();
  private drainingSince: number | undefined;
  /** Per-request controllers aborted on drain (see {@link enlist}). */
  private readonly enlisted = new Set<AbortController>();

  constructor(readonly retryAfterS: number) {
    // SSE streams and long-running calls may each listen to this one signal: not a leak.
    setMaxListeners(0, this.controller.signal);
  }

  /** Aborted when the process starts draining. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /**
   * Aborts `ctl` when draining begins (at once if it already has) until the returned function is
   * called. A Set instead of one listener per request on {@link signal}: an EventTarget checks
   * every listener for duplicates on add and walks them on remove, so with many requests in flight
   * each add and remove grew with their number.
   */
  enlist(ctl: AbortController): () => void {
    if (this.controller.signal.aborted) {
      ctl.abort(this.controller.signal.reason);
      return () => undefined;
    }
    this.enlisted.add(ctl);
    return () => {
      this.enlisted.delete(ctl);
    };
  }

  /** Marks the process as draining and aborts every long-running request. Idempotent. */
  beginDrain(): void {
    if (this.drainingSince !== undefined) return;
    this.drainingSince = Date.now();
    this.controller.abort(
      new DomainError('draining', 'this replica is shutting down; retry on another replica', {
        retryAfterS: this.retryAfterS,
      }),
    );
    const reason: unknown = this.controller.signal.reason;
    for (const ctl of this.enlisted) ctl.abort(reason);
    this.enlisted.clear();
  }
}
