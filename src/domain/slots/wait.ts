import type { Grant } from '../grant.js';
import { confirmDelayKey } from './lock-delay.js';
import {
  expiresIn,
  renewIfShort,
  sessionTtl,
  type AcquireRequest,
  type SemaphoreContext,
} from './semaphore-context.js';
import { Waiter } from './waiter.js';

/** A contender whose key is in the slot but not yet among the first N. */
export interface Contender {
  req: AcquireRequest;
  base: Omit<Grant, 'expiresInMs' | 'waited'>;
  key: string;
  leaseId: string;
  perGrantLease: boolean;
  leaseSentAt: number;
}

/**
 * Waits in the slot's FIFO queue until a linearizable read shows the contender's key among the
 * first N (then it holds), or the wait ends: timeout, cancel, `signal` aborted, etcd unreachable.
 * Whatever ends the wait removes the contender's key and per-grant lease.
 */
export async function waitForPlace(
  c: SemaphoreContext,
  w: Contender,
  signal: AbortSignal | undefined,
): Promise<Grant> {
  const { req, base, key, leaseId, perGrantLease } = w;
  const queue = c.room.queueFor(req.slot);
  c.metrics.waiting.inc();
  const waiter = new Waiter({
    key,
    capacity: req.capacity,
    slot: req.slot,
    waitMs: req.waitMs,
    ttlS: req.ttlS,
    leaseId: perGrantLease ? leaseId : undefined,
    leaseSentAt: w.leaseSentAt,
    leases: c.leases,
    retryAfterS: c.retryAfterS,
    signal,
  });
  queue.add(waiter, base.token, c.watch.deliveredRevision);
  try {
    const { lastKeepAliveSentAt, handover } = await waiter.promise;
    await confirmDelayKey(c.store, c.space, req, base.token, key, signal);
    if (handover !== undefined) c.onHandover?.(req.slot, handover);
    c.ends.remember(key);
    const sessionLeft = perGrantLease ? undefined : sessionTtl(c, leaseId, signal);
    const expiresInMs = await renewIfShort(
      c,
      perGrantLease ? leaseId : undefined,
      req.ttlS,
      await expiresIn(req.ttlS, lastKeepAliveSentAt, sessionLeft),
      signal,
    );
    return { ...base, expiresInMs, waited: true, handover };
  } catch (err) {
    queue.remove(key);
    c.withdraw.contender(
      key,
      base.token,
      perGrantLease ? leaseId : undefined,
      req.quota?.keyFor(key),
    );
    throw err;
  } finally {
    c.metrics.waiting.dec();
    c.room.dropIfEmpty(req.slot);
  }
}
