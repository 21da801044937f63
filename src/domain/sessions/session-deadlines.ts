import type { EtcdStore } from '../../etcd/store.js';
import { timeRemaining } from '../grant.js';

/**
 * The local deadlines of client sessions' leases, as this replica measured them when it served the
 * session's create or keepalive: the monotonic time the request was sent plus the TTL etcd granted.
 * That is a lower bound of the lease's real expiry (a lease is only ever extended; a revoked
 * session fails the acquire transaction's marker compare anyway), so a grant under a session can
 * tell its holder the time left without asking etcd. When this replica has no fresh deadline (the
 * session's calls went to another replica) it asks etcd (LeaseTimeToLive) and remembers the answer.
 */
export class SessionDeadlines {
  private readonly deadlines = new Map<string, number>();
  /** The TTL etcd granted each session's lease (what a grant under the session reports). */
  private readonly granted = new Map<string, number>();

  constructor(
    private readonly store: EtcdStore,
    private readonly maxEntries = 100_000,
  ) {}

  /** Records that etcd granted `ttlS` seconds to `leaseId` for a request sent at `sentAt`. */
  renewed(leaseId: string, ttlS: number, sentAt: number): void {
    if (this.deadlines.size >= this.maxEntries && !this.deadlines.has(leaseId)) this.prune();
    const deadline = sentAt + ttlS * 1000;
    if (deadline > (this.deadlines.get(leaseId) ?? 0)) this.deadlines.set(leaseId, deadline);
    this.granted.set(leaseId, ttlS);
  }

  /** The TTL etcd granted the session's lease, as this replica last learned it (if it did). */
  grantedTtlS(leaseId: string): number | undefined {
    return this.granted.get(leaseId);
  }

  /** Forgets a session that ended. */
  ended(leaseId: string): void {
    this.deadlines.delete(leaseId);
    this.granted.delete(leaseId);
  }

  /** Milliseconds left on the session's lease: from memory when fresh, else from etcd. */
  async remainingMs(leaseId: string, signal: AbortSignal | undefined): Promise<number> {
    const known = this.deadlines.get(leaseId);
    const now = performance.now();
    if (known !== undefined && known > now) return Math.floor(known - now);
    const sentAt = performance.now();
    const ttl = await this.store.leaseTimeToLive(leaseId, { signal });
    // -1: the session's lease is gone; 0: alive with under a second left (etcd rounds down).
    if (ttl.ttlS < 0) return 0;
    this.renewed(leaseId, ttl.ttlS, sentAt);
    if (ttl.grantedTtlS > 0) this.granted.set(leaseId, ttl.grantedTtlS);
    return timeRemaining(ttl.ttlS, sentAt);
  }

  /** Sessions remembered (never more than `maxEntries`). */
  get size(): number {
    return this.deadlines.size;
  }

  /**
   * Drops expired deadlines and, if that is not enough, the oldest remembered ones down to 90 %
   * of the bound (a forgotten session is asked of etcd again: slower, never wrong).
   */
  private prune(): void {
    const now = performance.now();
    for (const [id, deadline] of this.deadlines) if (deadline <= now) this.ended(id);
    const target = Math.floor(this.maxEntries * 0.9);
    for (const id of this.deadlines.keys()) {
      if (this.deadlines.size <= target) break;
      this.ended(id);
    }
  }
}
