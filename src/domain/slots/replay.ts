import type { EtcdStore, TxnResult } from '../../etcd/store.js';
import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder, timeRemaining, type Grant } from '../grant.js';

/**
 * Answers a retried acquire. Its Idempotency-Key derived the same secret, so its key already
 * existed and the acquire transaction took its failure branch (results: the key, the head of the
 * queue, the session marker count). Returns the existing grant if it holds; otherwise says why not:
 * a different body (422), still waiting (409), expired (410), or the session ended (410).
 */
export async function replayAcquire(
  store: EtcdStore,
  req: { slot: string; session?: unknown },
  secret: string,
  fp: string,
  results: TxnResult[],
  opts: { retryAfterS: number; signal: AbortSignal | undefined },
): Promise<Grant> {
  const existing = rangeAt(results, 0).kvs[0];
  if (existing === undefined) {
    if (req.session !== undefined && rangeAt(results, 2).count === 0) {
      throw new DomainError('session_gone', 'the session has ended or expired');
    }
    throw new DomainError('internal', 'the acquire transaction failed for an unknown reason');
  }
  const record = decodeHolder(existing);
  if (record?.fp !== fp) {
    throw new DomainError(
      'idempotency_conflict',
      'this Idempotency-Key was used for a different request on this slot',
    );
  }
  const first = rangeAt(results, 1).kvs;
  if (!first.some(kv => kv.key === existing.key)) {
    throw new DomainError(
      'acquire_in_progress',
      'an acquire with this Idempotency-Key is still waiting in the queue',
      { retryAfterS: opts.retryAfterS },
    );
  }
  const sentAt = performance.now();
  const ttl = await store.leaseTimeToLive(existing.lease, { signal: opts.signal });
  if (ttl.ttlS <= 0) {
    throw new DomainError('grant_gone', 'the grant for this Idempotency-Key has expired');
  }
  return {
    slot: req.slot,
    token: existing.createRevision,
    secret,
    holder: record.holder,
    capacity: record.capacity,
    ttlS: record.ttlS,
    expiresInMs: timeRemaining(ttl.ttlS, sentAt),
    waited: false,
    replayed: true,
    session: record.session,
    value: record.value,
  };
}
