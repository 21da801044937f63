/**
 * The leases named by puts of transactions still in flight. etcd rejects a WHOLE transaction
 * (and so a whole group-commit batch, every other slot's acquire and release with it) when one
 * of its puts names a lease that is gone; a lease is therefore never revoked while a transaction
 * that names it may still reach etcd: the revoke waits until those transactions are settled.
 */
export class LeasesInFlight {
  private readonly held = new Map<
    string,
    { count: number; idle: Promise<void>; done: () => void }
  >();

  /** Marks `leaseIds` as named by a transaction in flight; call the returned function once. */
  hold(leaseIds: readonly string[]): () => void {
    for (const id of leaseIds) {
      const entry = this.held.get(id);
      if (entry !== undefined) {
        entry.count++;
        continue;
      }
      let done!: () => void;
      const idle = new Promise<void>(resolve => (done = resolve));
      this.held.set(id, { count: 1, idle, done });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of leaseIds) {
        const entry = this.held.get(id);
        if (entry === undefined || --entry.count > 0) continue;
        this.held.delete(id);
        entry.done();
      }
    };
  }

  /** Resolves once no transaction in flight names `leaseId` (at once if none does). */
  idle(leaseId: string): Promise<void> {
    return this.held.get(leaseId)?.idle ?? Promise.resolve();
  }

  /** Leases currently named by transactions in flight. */
  get size(): number {
    return this.held.size;
  }
}
