import type { ContenderSpace } from '../../etcd/keys.js';
import type { WatchEvent } from '../../etcd/watch.js';
import type { Metrics } from '../../metrics.js';

/**
 * How the grants this replica made ended, for `slotlock_lock_grant_ends_total` and the hold
 * duration: a delete of a holder key with a release marker put at the same revision was a clean
 * release; any other delete was an expiry. Only the granting replica counts, so nothing is
 * counted twice across replicas (a grant made by a replica that restarted is not counted).
 * The grants remembered and not yet ended are `slotlock_lock_grants_held` (this replica's view).
 */
export class GrantEnds {
  /** Holder keys this replica granted, with the monotonic time of the grant. */
  private readonly granted = new Map<string, number>();

  constructor(
    private readonly space: ContenderSpace,
    private readonly metrics: Metrics,
    /** Most grants remembered: a delete the watch never delivered must not leak its entry. */
    private readonly maxEntries = 100_000,
  ) {}

  /** Grants remembered now (never more than `maxEntries`). */
  get size(): number {
    return this.granted.size;
  }

  /**
   * Remembers that this replica granted `key` now. At the bound, the oldest grants are forgotten
   * (their end is then not counted): a grant whose delete was missed (e.g. across a watch resync
   * after compaction) would otherwise stay here for ever.
   */
  remember(key: string): void {
    this.granted.delete(key);
    if (this.granted.size >= this.maxEntries) {
      const target = Math.floor(this.maxEntries * 0.9);
      for (const old of this.granted.keys()) {
        if (this.granted.size <= target) break;
        this.granted.delete(old);
      }
    }
    this.granted.set(key, performance.now());
    this.metrics.grantsHeld.set(this.granted.size);
  }

  /** Looks at watched changes for the end of a remembered grant. */
  observe(events: readonly WatchEvent[]): void {
    const releasedAt = new Set<string>();
    for (const e of events) {
      const parsed = this.space.parse(e.key);
      if (e.type === 'put' && parsed?.rest === 'r') releasedAt.add(`${parsed.name}@${e.revision}`);
    }
    for (const e of events) {
      if (e.type !== 'delete') continue;
      const grantedAt = this.granted.get(e.key);
      if (grantedAt === undefined) continue;
      this.granted.delete(e.key);
      this.metrics.grantsHeld.set(this.granted.size);
      const parsed = this.space.parse(e.key);
      const reason =
        parsed !== undefined && releasedAt.has(`${parsed.name}@${e.revision}`)
          ? 'released'
          : 'expired';
      this.metrics.grantEnds.inc({ reason });
      this.metrics.holdDuration.observe({ reason }, (performance.now() - grantedAt) / 1000);
    }
  }
}
