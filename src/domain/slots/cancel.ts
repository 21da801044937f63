import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder } from '../grant.js';
import { idOfSecret, secretFromIdempotencyKey } from '../secrets.js';
import type { SemaphoreContext } from './semaphore-context.js';

/**
 * Withdraws the acquire made with `idempotencyKey` (waiting or holding): its key is deleted, so
 * the replica serving the long-poll answers `wait_cancelled`. Fails with `not_found` if none.
 */
export async function cancelAcquire(
  c: SemaphoreContext,
  slot: string,
  idempotencyKey: string,
  opts: { signal?: AbortSignal },
): Promise<void> {
  const key = c.space.contender(slot, idOfSecret(secretFromIdempotencyKey(idempotencyKey, slot)));
  const res = await c.store.txn(
    {
      compare: [{ key, target: 'version', op: '>', value: '0' }],
      success: [{ range: { key } }, { delete: { key } }],
    },
    opts,
  );
  const kv = res.succeeded ? rangeAt(res.results, 0).kvs[0] : undefined;
  if (kv === undefined) {
    throw new DomainError(
      'not_found',
      `no acquire with this Idempotency-Key is queued on ${c.space.noun} "${slot}"`,
    );
  }
  if (decodeHolder(kv)?.session !== true && kv.lease !== '0') c.withdraw.lease(kv.lease);
}
