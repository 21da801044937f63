/** A lease granted ahead of its use: its id and when its LeaseGrant was sent (performance.now()). */
export interface PooledLease {
  id: string;
  sentAt: number;
}

/** The two lease calls the pool makes (an {@link EtcdStore} has them). */
export interface LeaseGranter {
  leaseGrant(ttlS: number): Promise<string>;
  leaseRevoke(id: string): Promise<boolean>;
}

/** How many leases the pool keeps, for how many TTLs, and how long one stays usable. */
export interface LeasePoolOptions {
  /** At most this many ready leases per TTL (0: the pool is off, `take` always misses). */
  size: number;
  /** A lease whose grant was sent longer ago than this is never handed out (default 250 ms). */
  maxAgeMs?: number;
  /** At most this many TTLs are pooled; the least recently taken one is dropped (default 8). */
  maxTtls?: number;
}

/** The leases of one TTL: ready ones oldest first, grants on their way, and recent takes. */
interface TtlPool {
  ttlS: number;
  ready: PooledLease[];
  granting: number;
  /** When the last `size` takes happened (a ring), to size the refill to recent demand. */
  takes: number[];
  sweep: NodeJS.Timeout | undefined;
}

const minBackoffMs = 100;
const maxBackoffMs = 5000;

/**
 * Leases of an exact TTL granted before anyone asks, so a per-grant acquire does not wait for its
 * LeaseGrant. `take(ttlS)` hands out the oldest lease whose grant was sent at most `maxAgeMs` ago
 * (the caller counts the grant's time left from its `sentAt`, so the time it spent here is
 * deducted, never overstated), then refills that TTL in the background up to the number of takes
 * it saw in the last `maxAgeMs` (at most `size`): a TTL taken once after a quiet spell gets
 * nothing pre-granted, so an idle or slow caller costs etcd no extra lease that would only age out.
 *
 * A lease that aged out (or is left over at close) is revoked in the background: it carries no
 * keys, and etcd's own expiry of a lease is a revoke through raft as well, so revoking it costs
 * etcd the same write, only sooner, and a long TTL (up to a day) does not sit in etcd's lease table
 * meanwhile. A failed revoke is not retried: the lease then simply expires. A failed grant stops
 * all refills for a backoff (100 ms doubling to 5 s), so nothing is pre-granted while etcd fails;
 * `take` never throws and never waits.
 */
export class LeasePool {
  private readonly pools = new Map<number, TtlPool>();
  private readonly size: number;
  private readonly maxAgeMs: number;
  private readonly maxTtls: number;
  private backoffMs = 0;
  private pausedUntil = 0;
  private closed = false;
  private readonly revoking = new Set<Promise<unknown>>();

  constructor(
    private readonly store: LeaseGranter,
    opts: LeasePoolOptions,
  ) {
    this.size = opts.size;
    this.maxAgeMs = opts.maxAgeMs ?? 250;
    this.maxTtls = opts.maxTtls ?? 8;
  }

  /** Whether the pool hands out anything at all (size > 0 and not closed). */
  get enabled(): boolean {
    return this.size > 0 && !this.closed;
  }

  /** Ready leases across all TTLs (fresh or not yet swept), and grants on their way. */
  get stats(): { ready: number; granting: number; ttls: number } {
    let ready = 0;
    let granting = 0;
    for (const p of this.pools.values()) {
      ready += p.ready.length;
      granting += p.granting;
    }
    return { ready, granting, ttls: this.pools.size };
  }

  /**
   * A lease of exactly `ttlS` seconds whose grant was sent at most `maxAgeMs` ago, or undefined.
   * The caller owns it from now on (it puts keys on it, or revokes it).
   */
  take(ttlS: number): PooledLease | undefined {
    if (!this.enabled) return undefined;
    const now = performance.now();
    const p = this.poolOf(ttlS);
    let hit: PooledLease | undefined;
    for (let e = p.ready.shift(); e !== undefined; e = p.ready.shift()) {
      if (now - e.sentAt <= this.maxAgeMs) {
        hit = e;
        break;
      }
      this.revoke(e.id);
    }
    const recent = p.takes.filter(t => now - t <= this.maxAgeMs).length;
    p.takes.push(now);
    if (p.takes.length > this.size) p.takes.shift();
    this.refill(p, recent);
    return hit;
  }

  /** Stops refilling and revokes every ready lease; resolves once those revokes have ended. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pools.values()) this.drop(p);
    this.pools.clear();
    await Promise.allSettled([...this.revoking]);
  }

  /** The TTL's pool, made the most recently used; the least recently used beyond `maxTtls` goes. */
  private poolOf(ttlS: number): TtlPool {
    let p = this.pools.get(ttlS);
    if (p === undefined) {
      p = { ttlS, ready: [], granting: 0, takes: [], sweep: undefined };
    } else {
      this.pools.delete(ttlS);
    }
    this.pools.set(ttlS, p);
    if (this.pools.size > this.maxTtls) {
      const [oldest] = this.pools.values();
      if (oldest !== undefined) {
        this.pools.delete(oldest.ttlS);
        this.drop(oldest);
      }
    }
    return p;
  }

  private refill(p: TtlPool, target: number): void {
    if (performance.now() < this.pausedUntil) return;
    for (let n = p.ready.length + p.granting; n < Math.min(target, this.size); n++) {
      this.grant(p);
    }
  }

  private grant(p: TtlPool): void {
    p.granting++;
    const sentAt = performance.now();
    this.store.leaseGrant(p.ttlS).then(
      id => {
        p.granting--;
        this.backoffMs = 0;
        if (this.closed || this.pools.get(p.ttlS) !== p) {
          this.revoke(id);
          return;
        }
        // Answers may come back out of order: keep the ready list oldest first.
        const at = p.ready.findIndex(e => e.sentAt > sentAt);
        p.ready.splice(at < 0 ? p.ready.length : at, 0, { id, sentAt });
        this.scheduleSweep(p);
      },
      () => {
        p.granting--;
        this.backoffMs = Math.min(Math.max(minBackoffMs, this.backoffMs * 2), maxBackoffMs);
        this.pausedUntil = performance.now() + this.backoffMs;
      },
    );
  }

  /** Revokes what aged out while nobody took it, so an idle pool holds nothing and does nothing. */
  private scheduleSweep(p: TtlPool): void {
    const [oldest] = p.ready;
    if (p.sweep !== undefined || oldest === undefined) return;
    const dueIn = Math.max(0, oldest.sentAt + this.maxAgeMs - performance.now()) + 1;
    p.sweep = setTimeout(() => {
      p.sweep = undefined;
      const now = performance.now();
      while (p.ready[0] !== undefined && now - p.ready[0].sentAt > this.maxAgeMs) {
        const e = p.ready.shift();
        if (e !== undefined) this.revoke(e.id);
      }
      this.scheduleSweep(p);
    }, dueIn);
    p.sweep.unref();
  }

  private drop(p: TtlPool): void {
    if (p.sweep !== undefined) clearTimeout(p.sweep);
    p.sweep = undefined;
    for (const e of p.ready.splice(0)) this.revoke(e.id);
  }

  private revoke(id: string): void {
    const r = this.store.leaseRevoke(id).catch(() => false);
    this.revoking.add(r);
    void r.finally(() => this.revoking.delete(r));
  }
}
