import { rangeAt, type TxnResult } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder, type Grant } from '../grant.js';
import { blockedPlaces, confirmDelayKey } from './lock-delay.js';
import {
  expiresIn,
  sessionTtl,
  type AcquireRequest,
  type SemaphoreContext,
} from './semaphore-context.js';

/** The retried acquire: its secret and fingerprint, the lease it brought and the txn's answer. */
export interface Retry {
  key: string;
  secret: string;
  fp: string;
  /** The retry's own per-grant lease (granted at `leaseSentAt`), or the session's lease. */
  leaseId: string;
  perGrantLease: boolean;
  leaseSentAt: number;
  /** The acquire transaction's failure branch: my key, the first N, the delay keys, [marker]. */
  results: TxnResult[];
}

/**
 * Answers a retried acquire. Its Idempotency-Key derived the same secret, so its key already
 * existed and the acquire transaction took its failure branch. Returns the existing grant if it
 * holds (among the first N and not behind a lock-delay); otherwise says why not: a different body
 * (422), still waiting or closed by lock-delay (409), or the session ended (410).
 *
 * A grant is replayed by rebinding its key to the retry's fresh lease (per-grant) or rewriting it
 * on the session's lease, compared against the exact incarnation read: the token (create
 * revision) stays, the mod revision moves. So a late cleanup of an earlier attempt whose answer
 * was lost (a revoke of the old lease, or a delete guarded by mod == create) can no longer remove
 * the grant the retry is told it holds. Resolves `'raced'` when the key changed meanwhile (the
 * caller runs the acquire again).
 */
export async function replayAcquire(
  c: SemaphoreContext,
  req: AcquireRequest,
  r: Retry,
  signal: AbortSignal | undefined,
): Promise<Grant | 'raced'> {
  const existing = rangeAt(r.results, 0).kvs[0];
  if (existing === undefined) {
    if (req.session !== undefined && rangeAt(r.results, 3).count === 0) {
      throw new DomainError('session_gone', 'the session has ended or expired');
    }
    throw new DomainError('internal', 'the acquire transaction failed for an unknown reason');
  }
  const record = decodeHolder(existing);
  if (record?.fp !== r.fp) {
    throw new DomainError(
      'idempotency_conflict',
      'this Idempotency-Key was used for a different request on this slot',
    );
  }
  const first = rangeAt(r.results, 1).kvs;
  const place = first.findIndex(kv => kv.key === existing.key);
  const blocked = blockedPlaces(rangeAt(r.results, 2).kvs, first);
  if (place < 0 || place + blocked >= record.capacity) {
    throw new DomainError(
      'acquire_in_progress',
      blocked > 0 && place >= 0
        ? 'an acquire with this Idempotency-Key is waiting: the slot is closed by lock-delay'
        : 'an acquire with this Idempotency-Key is still waiting in the queue',
      { retryAfterS: c.retryAfterS },
    );
  }
  const token = existing.createRevision;
  // A per-grant lease's quota ledger key goes with the old lease, which is revoked below: it moves
  // to the retry's lease with the grant (the same name, so the grant is still counted once). A
  // session grant's stays where it is, on the session's lease.
  const ledgerKey = r.perGrantLease ? req.quota?.keyFor(existing.key) : undefined;
  const rebound = await c.store.txn(
    {
      compare: [
        { key: existing.key, target: 'mod', op: '==', value: existing.modRevision },
        { key: existing.key, target: 'lease', op: '==', value: existing.lease },
      ],
      success: [
        { put: { key: existing.key, value: existing.value, lease: r.leaseId } },
        ...(ledgerKey === undefined
          ? []
          : [{ put: { key: ledgerKey, value: existing.key, lease: r.leaseId } }]),
      ],
    },
    { signal, group: c.space.keysOf(req.slot) },
  );
  if (!rebound.succeeded) return 'raced';
  if (r.perGrantLease && existing.lease !== r.leaseId) c.withdraw.lease(existing.lease);
  const ownDelay = rangeAt(r.results, 2).kvs.some(kv => kv.key === c.space.delay(req.slot, token));
  if (!ownDelay) {
    // The earlier attempt's answer was lost before its delay key was written.
    await confirmDelayKey(c.store, c.space, req, token, existing.key, signal);
  }
  c.ends.remember(existing.key);
  const sessionLeft = r.perGrantLease ? undefined : sessionTtl(c, r.leaseId, signal);
  return {
    slot: req.slot,
    token,
    secret: r.secret,
    holder: record.holder,
    capacity: record.capacity,
    ttlS: record.ttlS,
    expiresInMs: await expiresIn(record.ttlS, r.leaseSentAt, sessionLeft),
    waited: false,
    replayed: true,
    session: record.session,
    value: record.value,
  };
}
