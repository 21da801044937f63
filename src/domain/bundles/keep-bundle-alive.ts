import { DomainError } from '../errors.js';
import { timeRemaining, type FencingToken } from '../grant.js';
import type { BundleCallOptions, BundleContext } from './bundle-context.js';
import { findBundle } from './find-bundle.js';

/**
 * Renews a bundle's lease (and the lock-delay leases of its slots that have one, so they keep
 * outliving it by the delay). The bundle must still exist at `token` under the caller's secret;
 * resolves with the time left, or fails with `grant_gone` / `not_holder`.
 */
export async function keepBundleAlive(
  c: BundleContext,
  b: { token: FencingToken; secret: string },
  opts: BundleCallOptions,
): Promise<{ ttlS: number; expiresInMs: number }> {
  try {
    const found = await findBundle(c, b, opts.signal);
    opts.allow?.(found.index.slots.map(s => s.slot));
    const delayed = found.index.slots.filter(s => s.lockDelayMs > 0);
    const delayLeases =
      delayed.length === 0
        ? []
        : (
            await c.store.txn(
              {
                compare: [],
                success: delayed.map(s => ({ range: { key: c.space.delay(s.slot, b.token) } })),
              },
              opts,
            )
          ).results.flatMap(r => (r.kind === 'range' ? r.kvs.map(kv => kv.lease) : []));
    const sentAt = performance.now();
    const [ttl] = await Promise.all([
      c.leases.keepAlive(found.leaseId, opts),
      ...delayLeases.filter(l => l !== '0').map(l => c.leases.keepAlive(l, opts)),
    ]);
    if (ttl <= 0) {
      throw new DomainError('grant_gone', `bundle ${b.token} has expired`);
    }
    c.metrics.keepalives.inc({ outcome: 'ok' });
    return { ttlS: ttl, expiresInMs: timeRemaining(ttl, sentAt) };
  } catch (err) {
    c.metrics.keepalives.inc({
      outcome: err instanceof DomainError && err.code === 'grant_gone' ? 'gone' : 'error',
    });
    throw err;
  }
}
