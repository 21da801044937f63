import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder } from '../grant.js';
import { idOfSecret, secretFromIdempotencyKey } from '../secrets.js';
import type { SemaphoreContext } from './semaphore-context.js';

/**
 * Withdraws the acquire made with `idempotencyKey` (waiting or holding): its key is deleted, so
 * the replica serving the long-poll answers `wait_cancelled`, and so is its lock-delay key (a
 * cancel is a clean end: the place opens at once). Fails with `not_found` if none.
 */
export async function cancelAcquire(
  c: SemaphoreContext,
  slot: string,
  idempotencyKey: string,
  opts: { signal?: AbortSignal },
): Promise<void> {
  const key = c.space.contender(slot, idOfSecret(secretFromIdempotencyKey(idempotencyKey, slot)));
  for (let attempt = 1; attempt <= 3; attempt++) {
    const kv = (await c.store.range({ key }, opts)).kvs[0];
    if (kv === undefined) break;
    // The delay key is named by the token (the key's create revision), known only once read.
    const delayKey = c.space.delay(slot, kv.createRevision);
    // A session grant's quota ledger key goes with it (a per-grant lease's goes with the lease).
    const ledgerKey = decodeHolder(kv)?.q;
    const res = await c.store.txn(
      {
        compare: [{ key, target: 'create', op: '==', value: kv.createRevision }],
        success: [
          { range: { key: delayKey } },
          { delete: { key } },
          { delete: { key: delayKey } },
          ...(ledgerKey === undefined ? [] : [{ delete: { key: ledgerKey } }]),
        ],
      },
      opts,
    );
    if (!res.succeeded) continue;
    if (decodeHolder(kv)?.session !== true && kv.lease !== '0') c.withdraw.lease(kv.lease);
    const delay = rangeAt(res.results, 0).kvs[0];
    if (delay !== undefined && delay.lease !== '0') c.withdraw.lease(delay.lease);
    return;
  }
  throw new DomainError(
    'not_found',
    `no acquire with this Idempotency-Key is queued on ${c.space.noun} "${slot}"`,
  );
}
