import { createHash } from 'node:crypto';

/**
 * A per-principal quota that an acquire, a campaign or a session create passes before anything is
 * written. The caller's principal is counted by its ledger keys in etcd (one per live grant,
 * candidacy or session, on that thing's own lease), so every replica counts the same keys.
 */
export interface QuotaHook {
  /** A fresh ledger key (a random name), for a session: put in the transaction that creates it. */
  readonly key: string;
  /**
   * The ledger key of the grant or candidacy whose contender key is `contenderKey`, put in the
   * acquire transaction: {@link ledgerKeyOf} the principal's ledger prefix.
   */
  keyFor(contenderKey: string): string;
  /** Resolves when the principal is below its quota; rejects with `quota_exceeded` otherwise. */
  admit(signal: AbortSignal | undefined): Promise<void>;
}

/**
 * The ledger key of a grant or candidacy: the principal's ledger prefix plus a hash of its
 * contender key. A contender key is unique per live grant, so the names stay unique under the
 * prefix the quota counts, and a release, which knows the contender key and its caller's ledger
 * prefix, can delete the ledger key in its own transaction.
 */
export function ledgerKeyOf(ledgerPrefix: string, contenderKey: string): string {
  return ledgerPrefix + createHash('sha256').update(contenderKey).digest('hex').slice(0, 32);
}
