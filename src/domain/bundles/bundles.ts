import type { FencingToken } from '../grant.js';
import { DomainError } from '../errors.js';
import { acquireBundle } from './acquire-bundle.js';
import type { BundleGrant, BundleRequest } from './bundle.js';
import type { BundleCallOptions, BundleContext } from './bundle-context.js';
import { keepBundleAlive } from './keep-bundle-alive.js';
import { releaseBundle } from './release-bundle.js';
import { withSessionTtl } from '../slots/semaphore.js';
import { acquireOutcome } from '../slots/acquire-outcome.js';

export type { BundleGrant, BundleRequest, BundleSlot } from './bundle.js';

/**
 * Dispatch bundles: several slots granted together or not at all. A bundle puts one ordinary
 * contender key in each of its slots in ONE transaction, so its keys share one revision (its
 * fencing token in every slot) and every two contenders are ordered the same way in every slot
 * they share: waiting is FIFO and cannot deadlock. It holds once its key is among the first N in
 * every slot, confirmed by one linearizable read of all of them. One secret and one lease cover
 * the bundle; keepalive and release act on all of its keys at once.
 */
export class Bundles {
  constructor(private readonly c: BundleContext) {}

  /**
   * Takes every slot of `req` or none. Fails with `slot_busy` (try; `busy` lists the full slots),
   * `wait_timeout`, `capacity_conflict`, `idempotency_conflict`, `acquire_in_progress`,
   * `session_gone` or `etcd_unavailable`. Aborting `signal` withdraws the bundle's keys.
   */
  async acquire(req: BundleRequest, opts: { signal?: AbortSignal } = {}): Promise<BundleGrant> {
    checkSlots(req, this.c.maxSlots);
    const mode = req.waitMs > 0 ? 'wait' : 'try';
    const endTimer = this.c.metrics.bundleAcquireDuration.startTimer({ mode });
    try {
      const grant = withSessionTtl(await acquireBundle(this.c, req, opts.signal), req, this.c);
      const outcome = grant.replayed ? 'replayed' : grant.waited ? 'after_wait' : 'immediate';
      endTimer({ outcome });
      return grant;
    } catch (err) {
      endTimer({ outcome: acquireOutcome(err) });
      throw err;
    }
  }

  /** Renews the bundle's lease; see {@link keepBundleAlive}. */
  keepAlive(
    token: FencingToken,
    secret: string,
    opts: BundleCallOptions = {},
  ): Promise<{ ttlS: number; expiresInMs: number }> {
    return keepBundleAlive(this.c, { token, secret }, opts);
  }

  /** Releases every slot of the bundle at once; see {@link releaseBundle}. */
  release(token: FencingToken, secret: string, opts: BundleCallOptions = {}): Promise<void> {
    return releaseBundle(this.c, { token, secret }, opts);
  }
}

function checkSlots(req: BundleRequest, max: number): void {
  const names = req.slots.map(s => s.slot);
  if (names.length === 0 || names.length > max) {
    throw new DomainError('invalid_input', `a bundle takes 1 to ${max} slots, not ${names.length}`);
  }
  if (new Set(names).size !== names.length) {
    throw new DomainError('invalid_input', 'a bundle names each slot at most once');
  }
}
