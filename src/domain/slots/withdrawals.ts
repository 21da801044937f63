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

  /**
   * Withdraws a contender: revoke its own lease, or delete its key if still created at `token`
   * (with its quota ledger key `ledgerKey`, which a session's lease would otherwise keep).
   */
  contender(
    key: string,
    token: string,
    perGrantLeaseId: string | undefined,
    ledgerKey?: string,
  ): void {
    if (perGrantLeaseId !== undefined) {
      this.lease(perGrantLeaseId);
      return;
    }
    this.cleanup.schedule(`delete ${key}`, signal =>
      this.store.txn(
        {
          compare: [{ key, target: 'create', op: '==', value: token }],
          success: [
            { delete: { key } },
            ...(ledgerKey === undefined ? [] : [{ delete: { key: ledgerKey } }]),
          ],
        },
        { signal },
      ),
    );
  }

  /**
   * Deletes the quota ledger key of a released session grant if it is still the incarnation put
   * with that grant: last written at the grant's `token`, by the acquire transaction that put both
   * (nothing rewrites a session grant's ledger key). A re-acquire with the same Idempotency-Key
   * puts a ledger key of the same name and value with its new grant, possibly over this one before
   * it is deleted (so its create revision may stay): only its mod revision tells them apart.
   */
  ledgerKey(ledgerKey: string, token: string): void {
    this.cleanup.schedule(`delete ${ledgerKey}`, signal =>
      this.store.txn(
        {
          compare: [{ key: ledgerKey, target: 'mod', op: '==', value: token }],
          success: [{ delete: { key: ledgerKey } }],
        },
        { signal },
      ),
    );
  }

  /**
   * Revokes a lease (and so every key on it). A per-grant lease is the incarnation of one acquire:
   * a replay moves the key to the retry's own lease first, so a late revoke removes nothing else.
   */
  lease(leaseId: string): void {
    this.cleanup.schedule(`revoke lease ${leaseId}`, signal =>
      this.store.leaseRevoke(leaseId, { signal }),
    );
  }

  /**
   * Deletes a session contender key whose creation is uncertain (the acquire's answer was lost),
   * but only the incarnation that acquire would have put: still on `leaseId` and never rewritten
   * since its creation (mod == create revision), compared in the same transaction as the delete.
   * A replay of that acquire (same Idempotency-Key) rewrites the key, so this cleanup, however
   * late, can no longer delete a grant that a retry has been told it holds. The acquire's quota
   * ledger key `ledgerKey` (named from `key`, put in the same transaction on the session's lease)
   * goes with it.
   */
  uncertainKey(key: string, leaseId: string, ledgerKey?: string): void {
    this.cleanup.schedule(`delete ${key} if never replayed`, async signal => {
      const kv = (await this.store.range({ key }, { signal })).kvs[0];
      if (kv?.lease !== leaseId || kv.modRevision !== kv.createRevision) return;
      await this.store.txn(
        {
          compare: [
            { key, target: 'mod', op: '==', value: kv.modRevision },
            { key, target: 'lease', op: '==', value: leaseId },
          ],
          success: [
            { delete: { key } },
            ...(ledgerKey === undefined ? [] : [{ delete: { key: ledgerKey } }]),
          ],
        },
        { signal },
      );
    });
  }
}
