import { setMaxListeners } from 'node:events';
import { DomainError } from './domain/errors.js';

/**
 * Readiness and draining. `signal` aborts when shutdown begins, ending long-polls and SSE streams
 * with a 503 `draining` problem so clients retry on another replica.
 */
export class Lifecycle {
  private readonly controller = new AbortController();
  private drainingSince: number | undefined;

  constructor(readonly retryAfterS: number) {
    // Every request in flight listens to this one signal (see requestSignal): not a leak.
    setMaxListeners(0, this.controller.signal);
  }

  /** Aborted when the process starts draining. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
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
  }
}
