import { DomainError } from '../errors.js';
import { timeRemaining, type FencingToken } from '../grant.js';
import { readOwnedKey } from '../ownership.js';
import type { SemaphoreContext } from './semaphore-context.js';

/**
 * Renews a grant's lease. The key must exist at `token` under the caller's secret before (to find
 * its lease) and still after the lease was extended; resolves with the time left, or fails with
 * `grant_gone` / `not_holder`.
 */
export async function keepGrantAlive(
  c: SemaphoreContext,
  grant: { slot: string; token: FencingToken; secret: string },
  opts: { signal?: AbortSignal },
): Promise<{ ttlS: number; expiresInMs: number }> {
  const { slot, token } = grant;
  try {
    const { kv, delayLease } = await readOwnedKey(
      c.store,
      c.space,
      { name: slot, token, secret: grant.secret },
      opts.signal,
    );
    const sentAt = performance.now();
    // A lock-delay key's lease is renewed with the grant so it keeps outliving it by the delay.
    const [ttl] = await Promise.all([
      c.leases.keepAlive(kv.lease, opts),
      delayLease === undefined ? 0 : c.leases.keepAlive(delayLease, opts),
    ]);
    if (ttl <= 0)
      throw new DomainError(
        'grant_gone',
        `grant ${token} of ${c.space.noun} "${slot}" has expired`,
      );
    // Checked again AFTER extending the lease: a grant released (or cancelled) between the first
    // read and the keepalive must not be answered as renewed.
    const still = await c.store.txn(
      {
        compare: [
          { key: kv.key, target: 'create', op: '==', value: token },
          { key: kv.key, target: 'lease', op: '==', value: kv.lease },
        ],
        success: [],
      },
      opts,
    );
    if (!still.succeeded) {
      throw new DomainError(
        'grant_gone',
        `grant ${token} of ${c.space.noun} "${slot}" no longer exists (released, or its lease expired)`,
      );
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
