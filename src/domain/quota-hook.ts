import { createHash } from 'node:crypto';

/**
 * A per-principal quota that an acquire, a campaign or a session create passes before anything is
 * written. The caller's principal is counted by its ledger keys in etcd (one per live grant,
 * candidacy or session, on that thing's own lease), so every replica counts the same keys.
 */
export interface QuotaHook {
  /**
   * The ledger key of the thing named `name` (a grant's or candidacy's contender key, a session's
   * lease id), put in the transaction that creates it: {@link ledgerKeyOf} the principal's ledger
   * prefix.
   */
  keyFor(name: string): string;
  /** Resolves when the principal is below its quota; rejects with `quota_exceeded` otherwise. */
  admit(signal: AbortSignal | undefined): Promise<void>;
}

/**
 * A ledger key: the principal's ledger prefix plus a hash of what it counts (a contender key, a
 * session's lease id). Those are unique per live thing, so the names stay unique under the prefix
 * the quota counts, and a release, which knows the contender key and its caller's ledger prefix,
 * can delete the ledger key in its own transaction.
 */
export function ledgerKeyOf(ledgerPrefix: string, name: string): string {
  return ledgerPrefix + createHash('sha256').update(name).digest('hex').slice(0, 32);
}
