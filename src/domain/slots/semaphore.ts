import type { FencingToken, Grant } from '../grant.js';
import { proclaimValue } from './proclaim.js';
import { SessionDeadlines } from '../sessions/session-deadlines.js';
import { acquireOnce } from './acquire.js';
import { acquireOutcome } from './acquire-outcome.js';
import { cancelAcquire } from './cancel.js';
import { GrantEnds } from './grant-ends.js';
import { keepGrantAlive } from './keep-alive.js';
import { releaseGrant } from './release.js';
import type { AcquireRequest, SemaphoreContext, SemaphoreDeps } from './semaphore-context.js';
import { WaitingRoom } from './waiting-room.js';
import { Withdrawals } from './withdrawals.js';

export type { AcquireRequest, SemaphoreDeps, SessionRef } from './semaphore-context.js';

/**
 * Counting semaphore over etcd (capacity 1 = exclusive lock), after etcd's Go Mutex: each
 * contender puts its own key on its own lease; the N keys with the lowest create revisions hold
 * the slot; the holder key's create revision is the fencing token. Waiters are served FIFO.
 * Each verb lives in its own file (acquire, wait, keep-alive, release, cancel); this class holds
 * what they share on one replica.
 */
export class Semaphore {
  private readonly c: SemaphoreContext;

  constructor(d: SemaphoreDeps) {
    const c: SemaphoreContext = {
      ...d,
      room: new WaitingRoom(d),
      ends: new GrantEnds(d.space, d.metrics),
      withdraw: new Withdrawals(d.store, d.cleanup),
      sessionDeadlines: d.sessionDeadlines ?? new SessionDeadlines(d.store),
    };
    this.c = c;
    d.watch.listen('*', {
      changed: events => {
        c.ends.observe(events);
      },
      disconnected: () => undefined,
      resynced: () => undefined,
    });
  }

  /**
   * What the verbs share on this replica (queues, watch, cleanup), for verbs built on the same
   * machinery elsewhere (bundles take several slots through these queues).
   */
  get context(): SemaphoreContext {
    return this.c;
  }

  /** Requests waiting in this replica. */
  get waiting(): number {
    return this.c.room.waiting;
  }

  /** Linearizable queue reads made for handovers so far (for the no-thundering-herd test). */
  get handoverReads(): number {
    return this.c.room.handoverReads;
  }

  /**
   * Takes a place in `slot`. Resolves with a {@link Grant} once etcd confirms the caller's key is
   * among the first N; fails with `slot_busy` (try), `wait_timeout`, `capacity_conflict`,
   * `idempotency_conflict`, `acquire_in_progress`, `session_gone` or `etcd_unavailable`. Aborting
   * `signal` (client gone, shutdown) removes the caller's key and lease before rejecting.
   */
  async acquire(req: AcquireRequest, opts: { signal?: AbortSignal } = {}): Promise<Grant> {
    const { metrics } = this.c;
    const mode = req.waitMs > 0 ? 'wait' : 'try';
    const endTimer = metrics.acquireDuration.startTimer({ mode });
    try {
      const grant = withSessionTtl(await acquireOnce(this.c, req, opts.signal), req, this.c);
      const outcome = grant.replayed ? 'replayed' : grant.waited ? 'after_wait' : 'immediate';
      endTimer({ outcome });
      metrics.acquires.inc({ outcome });
      return grant;
    } catch (err) {
      const outcome = acquireOutcome(err);
      endTimer({ outcome });
      metrics.acquires.inc({ outcome });
      throw err;
    }
  }

  /** Renews a grant's lease; see {@link keepGrantAlive}. */
  keepAlive(
    slot: string,
    token: FencingToken,
    secret: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ ttlS: number; expiresInMs: number }> {
    return keepGrantAlive(this.c, { slot, token, secret }, opts);
  }

  /** Releases a grant; see {@link releaseGrant}. */
  release(
    slot: string,
    token: FencingToken,
    secret: string,
    opts: { signal?: AbortSignal; ledgerPrefix?: string | undefined } = {},
  ): Promise<void> {
    return releaseGrant(this.c, { slot, token, secret }, opts);
  }

  /**
   * Replaces the value published with a grant (an election leader's "proclaim"), only while the
   * caller's key is still the one created at `token`. The lease and the token do not change.
   */
  async proclaim(
    name: string,
    token: FencingToken,
    secret: string,
    value: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await proclaimValue(this.c.store, this.c.space, { name, token, secret, value }, opts.signal);
  }

  /** Withdraws the acquire made with `idempotencyKey`; see {@link cancelAcquire}. */
  cancel(slot: string, idempotencyKey: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return cancelAcquire(this.c, slot, idempotencyKey, opts);
  }
}

/**
 * A grant (or bundle) under a session lives on the session's lease, so it reports that lease's
 * TTL (which acquiring it just learned or confirmed), not the `ttlSeconds` the request asked for.
 */
export function withSessionTtl<G extends { ttlS: number }>(
  grant: G,
  req: { session?: { leaseId: string } | undefined },
  c: SemaphoreContext,
): G {
  const leaseId = req.session?.leaseId;
  const ttlS = leaseId === undefined ? undefined : c.sessionDeadlines.grantedTtlS(leaseId);
  return ttlS === undefined ? grant : { ...grant, ttlS };
}
