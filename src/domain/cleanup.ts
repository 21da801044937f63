import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';

/**
 * Removes what a failed or abandoned request left in etcd (a waiter key, a lease) when etcd could
 * not be reached at the time. Each job is retried with backoff until it succeeds or `maxAgeMs`
 * passes (by then a lease-bound key has expired by itself).
 */
export class Cleanup {
  private readonly jobs = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly log: Logger,
    private readonly maxAgeMs = 10 * 60_000,
  ) {
    // Every running job listens to this one signal; many at once is normal, not a leak.
    setMaxListeners(0, this.abort.signal);
  }

  /** Number of cleanup jobs still retrying. */
  get pending(): number {
    return this.jobs.size;
  }

  /** Runs `job` now and retries it until it succeeds. */
  schedule(what: string, job: (signal: AbortSignal) => Promise<unknown>): void {
    const started = performance.now();
    const run = async () => {
      for (let delay = 100; !this.abort.signal.aborted; delay = Math.min(delay * 2, 5000)) {
        try {
          await job(this.abort.signal);
          return;
        } catch (err) {
          if (performance.now() - started > this.maxAgeMs) {
            this.log.error({ err, what }, 'cleanup gave up');
            return;
          }
          this.log.debug({ err, what }, 'cleanup will retry');
          await new Promise(resolve => setTimeout(resolve, delay));
        }
      }
    };
    const p = run().finally(() => this.jobs.delete(p));
    this.jobs.add(p);
  }

  /** Waits (bounded by `timeoutMs`) for running jobs, then stops retrying. */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.jobs]),
      new Promise(resolve => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.abort.abort();
  }
}
