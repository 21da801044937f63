/** Options shared by {@link SlotClient} and {@link ElectionClient}. */
import type { RetryOptions } from './backoff.js';
import type { HttpOptions } from './http.js';

/** Options of every slotlock client: where the service is, timeouts, retries, safety margin. */
export interface ClientOptions extends HttpOptions {
  /** Retries of transient failures (unreachable, etcd_unavailable, draining, 5xx). */
  retry?: RetryOptions;
  /** Overrides the local safety margin (default max(250 ms, 10 % of the TTL)). */
  marginMs?: number;
}
