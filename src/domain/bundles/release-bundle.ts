import { rangeAt, type TxnOp } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import type { FencingToken } from '../grant.js';
import { withMarkerLease } from '../marker-leases.js';
import { delayKeysOp } from '../slots/lock-delay.js';
import { headOp, type SlotQueue } from '../slots/slot-queue.js';
import type { BundleCallOptions, BundleContext } from './bundle-context.js';
import { findBundle } from './find-bundle.js';

/**
 * Releases a whole bundle: ONE transaction deletes its index and every member key, only if each
 * was still created at `token` (a retried release never deletes a newer holder), and records a
 * clean release in every slot; then revokes a per-grant lease. Slots with waiters on this replica
 * also read their new head in that transaction, so the next waiter is served without another read.
 */
export async function releaseBundle(
  c: BundleContext,
  b: { token: FencingToken; secret: string },
  opts: BundleCallOptions,
): Promise<void> {
  const { store, space } = c;
  const found = await findBundle(c, b, opts.signal);
  opts.allow?.(found.index.slots.map(s => s.slot));
  const { token } = b;
  const slots = found.index.slots;
  const queues = slots.map(s => c.room.queueIfAny(s.slot));
  const all = [found.keys.index, ...found.keys.members];
  const perSlot = 4;
  /** The slots with waiters here, and where their head reads are in the ops. */
  const handovers: { queue: SlotQueue; at: number; limit: number }[] = [];
  let at = 1 + perSlot * slots.length;
  for (const queue of queues) {
    const limit = queue?.headLimit;
    if (queue === undefined || limit === undefined) continue;
    handovers.push({ queue, at, limit });
    at += 2;
  }
  /** The ops with the markers on `markerLease` (the index, then per slot, then the head reads). */
  const opsOn = (markerLease: string | undefined): TxnOp[] => [
    { delete: { key: found.keys.index } },
    ...slots.flatMap((s, i): TxnOp[] => [
      { delete: { key: found.keys.members[i] ?? '' } },
      {
        put: {
          key: space.releaseMarker(s.slot),
          value: JSON.stringify({ token, at: Date.now() }),
          ...(markerLease === undefined ? {} : { lease: markerLease }),
        },
      },
      { range: { key: space.delay(s.slot, token) } },
      { delete: { key: space.delay(s.slot, token) } },
    ]),
    ...handovers.flatMap(h => [
      headOp(space, h.queue.slot, h.limit),
      delayKeysOp(space, h.queue.slot),
    ]),
  ];
  for (const h of handovers) h.queue.releaseStarted();
  const sentAt = performance.now();
  let res;
  try {
    // Markers go on the replica's expiring marker lease, as for a single grant (release.ts).
    res = await withMarkerLease(
      c.markerLeases,
      lease =>
        store.txn(
          {
            compare: all.map(key => ({
              key,
              target: 'create' as const,
              op: '==' as const,
              value: token,
            })),
            success: opsOn(lease),
          },
          { signal: opts.signal },
        ),
      { signal: opts.signal },
    );
    if (res.succeeded) {
      for (const h of handovers) {
        h.queue.offer(
          res.revision,
          rangeAt(res.results, h.at).kvs,
          rangeAt(res.results, h.at + 1).kvs,
          sentAt,
        );
      }
    }
  } finally {
    for (const h of handovers) h.queue.releaseEnded();
  }
  if (!res.succeeded) {
    throw new DomainError(
      'grant_gone',
      `bundle ${token} no longer exists (released, or its lease expired)`,
    );
  }
  if (!found.index.session && found.leaseId !== '0') c.withdraw.lease(found.leaseId);
  slots.forEach((_, i) => {
    const delay = rangeAt(res.results, 1 + perSlot * i + 2).kvs[0];
    if (delay !== undefined && delay.lease !== '0') c.withdraw.lease(delay.lease);
  });
}
