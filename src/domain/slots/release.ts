import { rangeAt } from '../../etcd/store.js';
import { decodeHolder, type FencingToken } from '../grant.js';
import { grantGoneOrNotHolder, ownerProbe } from '../ownership.js';
import { ledgerKeyOf } from '../quota-hook.js';
import { idOfSecret } from '../secrets.js';
import { delayKeysOp } from './lock-delay.js';
import type { SemaphoreContext } from './semaphore-context.js';
import { headOp } from './slot-queue.js';
import { withMarkerLease } from '../marker-leases.js';

/**
 * Releases a grant: deletes its key only if it is still the key created at `token` (a retried
 * release never deletes a newer holder), records the clean release, then revokes a per-grant lease.
 * With waiters on this replica the same transaction reads the new head, so the next one is served
 * from that linearizable read without another round trip.
 *
 * `ledgerPrefix` is the caller's quota ledger prefix (grants quota on): the grant's ledger key,
 * named from its contender key under it, is deleted in the same transaction. A session grant's
 * ledger key not found there (released by another principal, or named by an older replica) is
 * deleted afterwards, by the name in its record.
 */
export async function releaseGrant(
  c: SemaphoreContext,
  grant: { slot: string; token: FencingToken; secret: string },
  opts: { signal?: AbortSignal; ledgerPrefix?: string | undefined },
): Promise<void> {
  const { store, space } = c;
  const { slot, token } = grant;
  const { signal } = opts;
  const key = space.contender(slot, idOfSecret(grant.secret));
  // Guarded by the compare on the contender key: only this grant's ledger key has this name.
  const ledgerKey =
    opts.ledgerPrefix === undefined ? undefined : ledgerKeyOf(opts.ledgerPrefix, key);
  const queue = c.room.queueIfAny(slot);
  const limit = queue?.headLimit;
  queue?.releaseStarted();
  const sentAt = performance.now();
  let res;
  try {
    // The marker goes on a shared, expiring lease: an idle slot leaves no key behind.
    res = await withMarkerLease(
      c.markerLeases,
      markerLease =>
        store.txn(
          {
            compare: [{ key, target: 'create', op: '==', value: token }],
            success: [
              { range: { key } },
              { delete: { key } },
              {
                put: {
                  key: space.releaseMarker(slot),
                  value: JSON.stringify({ token, at: Date.now() }),
                  ...(markerLease === undefined ? {} : { lease: markerLease }),
                },
              },
              // A clean release opens a lock-delay slot at once: its delay key goes too.
              { range: { key: space.delay(slot, token) } },
              { delete: { key: space.delay(slot, token) } },
              ...(limit === undefined
                ? []
                : [headOp(space, slot, limit), delayKeysOp(space, slot)]),
              // Last, so the result indexes above stay put.
              ...(ledgerKey === undefined ? [] : [{ delete: { key: ledgerKey } }]),
            ],
            failure: [ownerProbe(space.contenders(slot), token)],
          },
          { signal, group: space.keysOf(slot) },
        ),
      { signal },
    );
    if (res.succeeded && limit !== undefined) {
      queue?.offer(res.revision, rangeAt(res.results, 5).kvs, rangeAt(res.results, 6).kvs, sentAt);
    }
  } finally {
    queue?.releaseEnded();
  }
  if (!res.succeeded)
    throw grantGoneOrNotHolder(space.noun, slot, token, rangeAt(res.results, 0).count);
  const kv = rangeAt(res.results, 0).kvs[0];
  const record = kv === undefined ? undefined : decodeHolder(kv);
  if (kv !== undefined && record?.session !== true && kv.lease !== '0') {
    c.withdraw.lease(kv.lease);
  }
  // A session grant's quota ledger key lives on the session's lease: if the transaction did not
  // delete it, delete it now.
  if (record?.q !== undefined && record.q !== ledgerKey) c.withdraw.ledgerKey(record.q, token);
  const delay = rangeAt(res.results, 3).kvs[0];
  if (delay !== undefined && delay.lease !== '0') c.withdraw.lease(delay.lease);
}
