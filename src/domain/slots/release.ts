import { rangeAt } from '../../etcd/store.js';
import { decodeHolder, type FencingToken } from '../grant.js';
import { grantGoneOrNotHolder, ownerProbe } from '../ownership.js';
import { idOfSecret } from '../secrets.js';
import { delayKeysOp } from './lock-delay.js';
import type { SemaphoreContext } from './semaphore-context.js';
import { headOp } from './slot-queue.js';

/**
 * Releases a grant: deletes its key only if it is still the key created at `token` (a retried
 * release never deletes a newer holder), records the clean release, then revokes a per-grant lease.
 * With waiters on this replica the same transaction reads the new head, so the next one is served
 * from that linearizable read without another round trip.
 */
export async function releaseGrant(
  c: SemaphoreContext,
  grant: { slot: string; token: FencingToken; secret: string },
  opts: { signal?: AbortSignal },
): Promise<void> {
  const { store, space } = c;
  const { slot, token } = grant;
  const key = space.contender(slot, idOfSecret(grant.secret));
  const queue = c.room.queueIfAny(slot);
  const limit = queue?.headLimit;
  queue?.releaseStarted();
  // The marker goes on a shared, expiring lease: an idle slot leaves no key behind.
  const markerLease = await c.markerLeases?.current({ signal: opts.signal });
  const sentAt = performance.now();
  let res;
  try {
    res = await store.txn(
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
          ...(limit === undefined ? [] : [headOp(space, slot, limit), delayKeysOp(space, slot)]),
        ],
        failure: [ownerProbe(space.contenders(slot), token)],
      },
      { ...opts, group: space.keysOf(slot) },
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
  // A session grant's quota ledger key lives on the session's lease: delete it now.
  if (record?.q !== undefined) c.withdraw.ledgerKey(record.q, key);
  const delay = rangeAt(res.results, 3).kvs[0];
  if (delay !== undefined && delay.lease !== '0') c.withdraw.lease(delay.lease);
}
