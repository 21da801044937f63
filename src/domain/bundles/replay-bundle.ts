import { rangeAt, type EtcdStore } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { timeRemaining } from '../grant.js';
import { decodeIndex, type BundleGrant, type BundleKeys, type BundleRequest } from './bundle.js';
import type { BundleTxnAnswer } from './bundle-txn.js';
import { standings } from './bundle-heads.js';

/**
 * Answers a retried bundle acquire. Its Idempotency-Key derived the same secret, so its index key
 * already existed and the acquire transaction took its failure branch (results: the index key, the
 * heads of the asked slots, the session marker count). Returns the existing grant if it holds in
 * every slot; otherwise says why not: a different body (422), still waiting (409), expired (410),
 * or the session ended (410).
 */
export async function replayBundle(
  store: EtcdStore,
  req: BundleRequest,
  g: { id: string; secret: string; fp: string; keys: BundleKeys },
  res: BundleTxnAnswer,
  opts: { retryAfterS: number; signal: AbortSignal | undefined },
): Promise<BundleGrant> {
  const existing = rangeAt(res.results, 0).kvs[0];
  if (existing === undefined) {
    const marker = res.headsAt + 2 * req.slots.length;
    if (req.session !== undefined && rangeAt(res.results, marker).count === 0) {
      throw new DomainError('session_gone', 'the session has ended or expired');
    }
    throw new DomainError('internal', 'the bundle transaction failed for an unknown reason');
  }
  const index = decodeIndex(existing);
  if (index?.fp !== g.fp) {
    throw new DomainError(
      'idempotency_conflict',
      'this Idempotency-Key was used for a different bundle request',
    );
  }
  const token = existing.createRevision;
  const places = standings(res.results, res.headsAt, req.slots, g.keys.members);
  if (!places.every(p => p.held)) {
    throw new DomainError(
      'acquire_in_progress',
      'a bundle acquire with this Idempotency-Key is still waiting in the queue',
      { retryAfterS: opts.retryAfterS },
    );
  }
  const sentAt = performance.now();
  const ttl = await store.leaseTimeToLive(existing.lease, { signal: opts.signal });
  if (ttl.ttlS <= 0) {
    throw new DomainError('grant_gone', 'the bundle for this Idempotency-Key has expired');
  }
  return {
    id: g.id,
    token,
    secret: g.secret,
    holder: index.holder,
    slots: index.slots.map(s => ({ ...s, token })),
    ttlS: index.ttlS,
    expiresInMs: timeRemaining(ttl.ttlS, sentAt),
    waited: false,
    replayed: true,
    session: index.session,
  };
}
