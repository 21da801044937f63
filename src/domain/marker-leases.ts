import { isLeaseGone } from '../etcd/client.js';
import type { EtcdStore } from '../etcd/store.js';

/**
 * The leases release markers (`#r`: the last clean release of a slot or election) are put on, so
 * an idle name leaves no key behind: one lease per replica per time bucket, never kept alive.
 *
 * A bucket lasts B = max(1 s, retention / 10). Its lease is granted with TTL = retention + B and
 * handed out only during the B after the grant, so a marker written at time t expires between
 * t + retention and t + retention + B (plus one grant round trip). Tokens stay monotonic: they are
 * etcd revisions, which only grow whether or not a marker exists. Once a marker is gone, a token
 * check of an old token still answers `current: false` (with `highestToken: null`), and a fenced
 * write with it is still refused (`grant_gone` instead of `stale_token`).
 */
export class MarkerLeases {
  private readonly bucketMs: number;
  private lease: Promise<string> | undefined;
  private usableUntil = 0;

  constructor(
    private readonly store: EtcdStore,
    readonly retentionS: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bucketMs = Math.max(1000, Math.floor((retentionS * 1000) / 10));
  }

  /** The lease to put a marker written now on (granted at most once per bucket). */
  current(opts: { signal?: AbortSignal | undefined } = {}): Promise<string> {
    const now = this.now();
    if (this.lease !== undefined && now < this.usableUntil) return this.lease;
    const ttlS = this.retentionS + Math.ceil(this.bucketMs / 1000);
    // The signal of the first caller must not fail the lease for the others: none is passed.
    const lease = this.store.leaseGrant(ttlS);
    this.lease = lease;
    this.usableUntil = now + this.bucketMs;
    lease.catch(() => {
      if (this.lease === lease) this.lease = undefined;
    });
    return abortable(lease, opts.signal);
  }

  /**
   * Runs `write` (a transaction that puts markers on the lease it is given) on the current lease.
   * When etcd refused it because that lease is gone before its time (revoked by an operator, or
   * lost when etcd was restored from a snapshot), nothing of it was applied: the lease is dropped
   * and `write` runs once more on a new one, instead of failing every release until the bucket ends.
   */
  async write<T>(
    write: (lease: string) => Promise<T>,
    opts: { signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const lease = await this.current(opts);
    try {
      return await write(lease);
    } catch (err) {
      if (!isLeaseGone(err)) throw err;
      if (this.lease !== undefined && (await this.lease.catch(() => undefined)) === lease) {
        this.lease = undefined;
      }
      return write(await this.current(opts));
    }
  }
}

/** Runs `write` on the marker lease of `leases` (see {@link MarkerLeases.write}), or on none. */
export function withMarkerLease<T>(
  leases: MarkerLeases | undefined,
  write: (lease: string | undefined) => Promise<T>,
  opts: { signal?: AbortSignal | undefined } = {},
): Promise<T> {
  return leases === undefined ? write(undefined) : leases.write(write, opts);
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}
