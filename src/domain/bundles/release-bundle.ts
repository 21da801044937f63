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
  const ops: TxnOp[] = [{ delete: { key: found.keys.index } }];
  /** Where the marker puts are: they get the marker lease when the transaction is sent. */
  const markerAt = new Set<number>();
  slots.forEach((s, i) => {
    const member = found.keys.members[i] ?? '';
    markerAt.add(ops.length + 1);
    ops.push(
      { delete: { key: member } },
      {
        put: { key: space.releaseMarker(s.slot), value: JSON.stringify({ token, at: Date.now() }) },
      },
      { range: { key: space.delay(s.slot, token) } },
      { delete: { key: space.delay(s.slot, token) } },
    );
  });
  const handovers: { queue: SlotQueue; at: number }[] = [];
  slots.forEach((s, i) => {
    const limit = queues[i]?.headLimit;
    const queue = queues[i];
    if (queue === undefined || limit === undefined) return;
    handovers.push({ queue, at: ops.length });
    ops.push(headOp(space, s.slot, limit), delayKeysOp(space, s.slot));
  });
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
            success: ops.map((op, i) =>
              lease !== undefined && markerAt.has(i) && 'put' in op
                ? { put: { ...op.put, lease } }
                : op,
            ),
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
