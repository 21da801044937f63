import type { EtcdStore } from '../../etcd/store.js';
import type { Cleanup } from '../cleanup.js';

/**
 * Removes what an acquire that will not be granted put into etcd: its per-grant lease (which
 * takes the key with it) or, under a session, its key guarded by its create revision. Each removal
 * runs at once and is retried in the background while etcd is unreachable.
 */
export class Withdrawals {
  constructor(
    private readonly store: EtcdStore,
    private readonly cleanup: Cleanup,
  ) {}

  /** Withdraws a contender: revoke its own lease, or delete its key if still created at `token`. */
  contender(key: string, token: string, perGrantLeaseId: string | undefined): void {
    if (perGrantLeaseId !== undefined) {
      this.lease(perGrantLeaseId);
      return;
    }
    this.cleanup.schedule(`delete ${key}`, signal =>
      this.store.txn(
        {
          compare: [{ key, target: 'create', op: '==', value: token }],
          success: [{ delete: { key } }],
        },
        { signal },
      ),
    );
  }

  /** Revokes a lease (and so every key on it). */
  lease(leaseId: string): void {
    this.cleanup.schedule(`revoke lease ${leaseId}`, signal =>
      this.store.leaseRevoke(leaseId, { signal }),
    );
  }

  /** Deletes a key whose creation is uncertain (the transaction that put it failed midway). */
  key(key: string): void {
    this.cleanup.schedule(`delete ${key}`, signal =>
      this.store.txn({ compare: [], success: [{ delete: { key } }] }, { signal }),
    );
  }
}
