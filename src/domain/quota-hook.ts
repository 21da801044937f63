/**
 * A per-principal quota that an acquire, a campaign or a session create passes before anything is
 * written. The caller's principal is counted by its ledger keys in etcd (one per live grant,
 * candidacy or session, on that thing's own lease), so every replica counts the same keys.
 */
export interface QuotaHook {
  /** The ledger key to put on the new lease, in the same transaction as the grant or session. */
  readonly key: string;
  /** Resolves when the principal is below its quota; rejects with `quota_exceeded` otherwise. */
  admit(signal: AbortSignal | undefined): Promise<void>;
}
