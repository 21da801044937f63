import { asDomainError, DomainError } from '../errors.js';
import type { Handover } from '../grant.js';
import type { LocalWaiter } from '../slots/slot-queue.js';
import { unsafeTestMode } from '../slots/unsafe-test-mode.js';
import { Waiter } from '../slots/waiter.js';
import type { BundleKeys, BundleRequest } from './bundle.js';
import type { BundleContext } from './bundle-context.js';
import { readStandings } from './bundle-heads.js';

/** A bundle whose keys are in all its slots but that does not hold its place in every one yet. */
export interface WaitingBundle {
  req: BundleRequest;
  keys: BundleKeys;
  token: string;
  leaseId: string;
  perGrantLease: boolean;
  leaseSentAt: number;
  /** Per slot (in request order): the key already holds its place there. */
  held: readonly boolean[];
}

/**
 * Waits until the bundle holds its place in every slot. Each slot where it does not yet gets a
 * waiter in that slot's queue (the replica's one watch and one head read per slot, shared with
 * single-slot waiters); once every slot reported the key in its head, ONE linearizable read of all
 * the heads confirms it before the bundle is granted. The bundle keeps its place in the slots it
 * already reached meanwhile: that is what makes the order global and the wait deadlock-free.
 * Resolves when the bundle holds; rejects on timeout, cancel, a vanished key or etcd trouble (the
 * caller withdraws the keys).
 */
export async function waitForBundle(
  c: BundleContext,
  w: WaitingBundle,
  signal: AbortSignal | undefined,
): Promise<{ lastKeepAliveSentAt: number; handover: Handover | undefined }> {
  const { req, keys } = w;
  const names = req.slots.map(s => s.slot);
  const waiter = new Waiter({
    key: keys.index,
    slot: names.join('", "'),
    capacity: 1,
    waitMs: req.waitMs,
    ttlS: req.ttlS,
    leaseId: w.perGrantLease ? w.leaseId : undefined,
    leaseSentAt: w.leaseSentAt,
    leases: c.leases,
    retryAfterS: c.retryAfterS,
    signal,
  });
  // UNSAFE TEST MODE (negative control): granted at once, like single-slot waiters in this mode
  // (without this the confirmation read would disagree with the queue forever).
  if (unsafeTestMode === 'grant-without-head') waiter.promote('0', undefined);
  let done = false;
  let handover: Handover | undefined;
  const pending = new Set<number>();
  const confirm = async (): Promise<void> => {
    try {
      const read = await readStandings(
        c.store,
        c.space,
        { index: keys.index, slots: req.slots, members: keys.members },
        signal,
      );
      if (done) return;
      if (!read.exists) {
        waiter.fail(
          new DomainError('wait_cancelled', 'this waiting bundle lost its keys (lease expired)'),
        );
        return;
      }
      read.standings.forEach((st, i) => {
        if (!st.held) join(i, read.revision);
      });
      if (pending.size === 0) waiter.promote(read.revision, handover);
    } catch (err) {
      waiter.fail(asDomainError(err) ?? new DomainError('internal', String(err)));
    }
  };
  const proxies: LocalWaiter[] = req.slots.map((s, i) => ({
    key: keys.members[i] ?? '',
    capacity: s.capacity,
    promote: (_revision, h) => {
      if (done || !pending.delete(i)) return;
      handover = h ?? handover;
      if (pending.size === 0) void confirm();
    },
    fail: err => {
      waiter.fail(err);
    },
  }));
  const join = (i: number, after: string): void => {
    const proxy = proxies[i];
    const name = names[i];
    if (proxy === undefined || name === undefined) return;
    pending.add(i);
    c.room.queueFor(name).add(proxy, after, c.watch.deliveredRevision);
  };
  c.metrics.waiting.inc();
  w.held.forEach((held, i) => {
    if (!held) join(i, w.token);
  });
  try {
    return await waiter.promise;
  } finally {
    done = true;
    c.metrics.waiting.dec();
    names.forEach((name, i) => {
      c.room.queueIfAny(name)?.remove(keys.members[i] ?? '');
      c.room.dropIfEmpty(name);
    });
  }
}
