import type { Logger } from 'pino';
import type { ContenderSpace } from '../etcd/keys.js';
import type { LeaseKeeper } from '../etcd/lease-keeper.js';
import type { EtcdStore } from '../etcd/store.js';
import { rangeAt } from '../etcd/store.js';
import type { Metrics } from '../metrics.js';
import type { Cleanup } from './cleanup.js';
import { DomainError } from './errors.js';
import { GrantEnds } from './grant-ends.js';
import {
  decodeHolder,
  encodeHolder,
  timeRemaining,
  type FencingToken,
  type Grant,
  type Handover,
} from './grant.js';
import { blockedPlaces, delayKeysOp, writeDelayKey } from './lock-delay.js';
import { grantGoneOrNotHolder, ownerProbe, readOwnedKey } from './ownership.js';
import { replayAcquire } from './replay.js';
import { runAcquireTxn } from './acquire-txn.js';
import { proclaimValue } from './proclaim.js';
import { fingerprint, idOfSecret, newSecret, secretFromIdempotencyKey } from './secrets.js';
import type { SlotWatch } from './slot-watch.js';
import { headOp } from './slot-queue.js';
import { WaitingRoom } from './waiting-room.js';
import { Waiter } from './waiter.js';
import { Withdrawals } from './withdrawals.js';
import { SessionDeadlines } from './session-deadlines.js';

/** A client session an acquire runs under: its lease and the marker key that proves it is live. */
export interface SessionRef {
  leaseId: string;
  markerKey: string;
}

/** What a caller asks for. `waitMs` 0 means try once. */
export interface AcquireRequest {
  slot: string;
  holder: string;
  capacity: number;
  ttlS: number;
  waitMs: number;
  idempotencyKey?: string | undefined;
  session?: SessionRef | undefined;
  /** A value published with the grant (elections: the leader's value). */
  value?: string | undefined;
  /** Per-slot lock-delay in ms after an unclean expiry (0 or absent: none); per-grant leases only. */
  lockDelayMs?: number | undefined;
}

export interface SemaphoreDeps {
  store: EtcdStore;
  space: ContenderSpace;
  watch: SlotWatch;
  leases: LeaseKeeper;
  cleanup: Cleanup;
  metrics: Metrics;
  log: Logger;
  retryAfterS: number;
  /** How long a disconnected watch may stay down before waiters are failed with 503. */
  reconnectGraceMs: number;
  /** Session lease deadlines this replica measured (spares a LeaseTimeToLive per acquire). */
  sessionDeadlines?: SessionDeadlines | undefined;
  /** Told of every handover to a waiter of this replica (the election SLI). */
  onHandover?: ((name: string, handover: Handover) => void) | undefined;
}

/**
 * Counting semaphore over etcd (capacity 1 = exclusive lock), after etcd's Go Mutex: each
 * contender puts its own key on its own lease; the N keys with the lowest create revisions hold
 * the slot; the holder key's create revision is the fencing token. Waiters are served FIFO.
 */
export class Semaphore {
  private readonly room: WaitingRoom;
  private readonly ends: GrantEnds;
  private readonly withdraw: Withdrawals;
  private readonly sessionDeadlines: SessionDeadlines;

  constructor(private readonly d: SemaphoreDeps) {
    this.room = new WaitingRoom(d);
    this.ends = new GrantEnds(d.space, d.metrics);
    this.withdraw = new Withdrawals(d.store, d.cleanup);
    this.sessionDeadlines = d.sessionDeadlines ?? new SessionDeadlines(d.store);
    d.watch.listen('*', {
      changed: events => {
        this.ends.observe(events);
      },
      disconnected: () => undefined,
      resynced: () => undefined,
    });
  }

  /** Requests waiting in this replica. */
  get waiting(): number {
    return this.room.waiting;
  }

  /** Linearizable queue reads made for handovers so far (for the no-thundering-herd test). */
  get handoverReads(): number {
    return this.room.handoverReads;
  }

  /**
   * Takes a place in `slot`. Resolves with a {@link Grant} once etcd confirms the caller's key is
   * among the first N; fails with `slot_busy` (try), `wait_timeout`, `capacity_conflict`,
   * `idempotency_conflict`, `acquire_in_progress`, `session_gone` or `etcd_unavailable`. Aborting
   * `signal` (client gone, shutdown) removes the caller's key and lease before rejecting.
   */
  async acquire(req: AcquireRequest, opts: { signal?: AbortSignal } = {}): Promise<Grant> {
    const mode = req.waitMs > 0 ? 'wait' : 'try';
    const endTimer = this.d.metrics.acquireDuration.startTimer({ mode });
    try {
      const grant = await this.acquireOnce(req, opts.signal);
      const outcome = grant.waited ? 'after_wait' : 'immediate';
      endTimer({ outcome: grant.replayed ? 'replayed' : outcome });
      this.d.metrics.acquires.inc({ outcome: grant.replayed ? 'replayed' : outcome });
      return grant;
    } catch (err) {
      const outcome = acquireOutcome(err);
      endTimer({ outcome });
      this.d.metrics.acquires.inc({ outcome });
      throw err;
    }
  }

  private async acquireOnce(req: AcquireRequest, signal: AbortSignal | undefined): Promise<Grant> {
    const { store, space } = this.d;
    const secret =
      req.idempotencyKey === undefined
        ? newSecret()
        : secretFromIdempotencyKey(req.idempotencyKey, req.slot);
    const key = space.contender(req.slot, idOfSecret(secret));
    // Only a retry with the same Idempotency-Key can find this key again and compare requests.
    const fp =
      req.idempotencyKey === undefined
        ? ''
        : fingerprint({
            holder: req.holder,
            capacity: req.capacity,
            ttlS: req.ttlS,
            session: req.session?.leaseId ?? null,
            value: req.value ?? null,
            lockDelayMs: req.lockDelayMs ?? 0,
          });
    const leaseSentAt = performance.now();
    const leaseId = req.session?.leaseId ?? (await store.leaseGrant(req.ttlS, { signal }));
    const perGrantLease = req.session === undefined;
    const value = encodeHolder({
      holder: req.holder,
      capacity: req.capacity,
      ttlS: req.ttlS,
      fp,
      session: !perGrantLease,
      at: Date.now(),
      value: req.value,
      lockDelayMs: req.lockDelayMs ?? 0,
    });
    const sessionTtl = perGrantLease ? undefined : this.sessionTtl(leaseId, signal);
    let res;
    try {
      res = await runAcquireTxn(
        store,
        space,
        { name: req.slot, key, value, leaseId, capacity: req.capacity, session: req.session },
        signal,
      );
    } catch (err) {
      // The put may or may not have been applied: remove what could be ours.
      if (perGrantLease) this.withdraw.lease(leaseId);
      else this.withdraw.key(key);
      throw err;
    }

    if (!res.succeeded) {
      if (perGrantLease) this.withdraw.lease(leaseId);
      return replayAcquire(this.d.store, req, secret, fp, res.results, {
        retryAfterS: this.d.retryAfterS,
        signal,
      });
    }

    const token = res.revision;
    const first = rangeAt(res.results, 1).kvs;
    const oldest = first[0] === undefined ? undefined : decodeHolder(first[0]);
    const lockDelayMs = req.lockDelayMs ?? 0;
    if (
      first[0]?.key !== key &&
      oldest !== undefined &&
      (oldest.capacity !== req.capacity || (oldest.lockDelayMs ?? 0) !== lockDelayMs)
    ) {
      this.withdraw.contender(key, token, perGrantLease ? leaseId : undefined);
      throw new DomainError(
        'capacity_conflict',
        `${this.d.space.noun} "${req.slot}" is in use with capacity ${oldest.capacity} and lock-delay ` +
          `${oldest.lockDelayMs ?? 0} ms, not ${req.capacity} and ${lockDelayMs} ms`,
        { extensions: { capacity: oldest.capacity, lockDelayMs: oldest.lockDelayMs ?? 0 } },
      );
    }
    const base = {
      slot: req.slot,
      token,
      secret,
      holder: req.holder,
      capacity: req.capacity,
      ttlS: req.ttlS,
      replayed: false,
      session: !perGrantLease,
      value: req.value,
    };
    const place = first.findIndex(kv => kv.key === key);
    const blocked = blockedPlaces(rangeAt(res.results, 2).kvs, first);
    if (place >= 0 && place + blocked < req.capacity) {
      try {
        await this.confirmDelayKey(req, token, key, signal);
      } catch (err) {
        this.withdraw.contender(key, token, perGrantLease ? leaseId : undefined);
        throw err;
      }
      this.ends.remember(key);
      const expiresInMs = await this.expiresIn(req.ttlS, leaseSentAt, sessionTtl);
      return { ...base, expiresInMs, waited: false };
    }
    if (req.waitMs <= 0) {
      this.withdraw.contender(key, token, perGrantLease ? leaseId : undefined);
      const noun = this.d.space.noun;
      throw new DomainError(
        noun === 'election' ? 'not_leader' : 'slot_busy',
        blocked > 0
          ? `${noun} "${req.slot}" is closed by lock-delay after a holder expired without releasing`
          : `${noun} "${req.slot}" has ${req.capacity} holder(s) already`,
        { retryAfterS: this.d.retryAfterS, extensions: { capacity: req.capacity } },
      );
    }
    return this.wait(req, base, key, leaseId, perGrantLease, leaseSentAt, signal);
  }

  /** For a slot with lock-delay, writes the new holder's delay key before the grant is answered. */
  private async confirmDelayKey(
    req: AcquireRequest,
    token: FencingToken,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const lockDelayMs = req.lockDelayMs ?? 0;
    if (lockDelayMs <= 0) return;
    await writeDelayKey(
      this.d.store,
      this.d.space,
      { name: req.slot, token, holderKey: key, ttlS: req.ttlS, lockDelayMs },
      signal,
    );
  }

  private async wait(
    req: AcquireRequest,
    base: Omit<Grant, 'expiresInMs' | 'waited'>,
    key: string,
    leaseId: string,
    perGrantLease: boolean,
    leaseSentAt: number,
    signal: AbortSignal | undefined,
  ): Promise<Grant> {
    const queue = this.room.queueFor(req.slot);
    this.d.metrics.waiting.inc();
    const waiter = new Waiter({
      key,
      capacity: req.capacity,
      slot: req.slot,
      waitMs: req.waitMs,
      ttlS: req.ttlS,
      leaseId: perGrantLease ? leaseId : undefined,
      leaseSentAt,
      leases: this.d.leases,
      retryAfterS: this.d.retryAfterS,
      signal,
    });
    queue.add(waiter, base.token, this.d.watch.deliveredRevision);
    try {
      const { lastKeepAliveSentAt, handover } = await waiter.promise;
      await this.confirmDelayKey(req, base.token, key, signal);
      if (handover !== undefined) this.d.onHandover?.(req.slot, handover);
      this.ends.remember(key);
      const sessionTtl = perGrantLease ? undefined : this.sessionTtl(leaseId, signal);
      const expiresInMs = await this.expiresIn(req.ttlS, lastKeepAliveSentAt, sessionTtl);
      return { ...base, expiresInMs, waited: true, handover };
    } catch (err) {
      queue.remove(key);
      this.withdraw.contender(key, base.token, perGrantLease ? leaseId : undefined);
      throw err;
    } finally {
      this.d.metrics.waiting.dec();
      this.room.dropIfEmpty(req.slot);
    }
  }

  /**
   * Renews a grant's lease. The key must still exist at `token` under the caller's secret;
   * resolves with the time left, or fails with `grant_gone` / `not_holder`.
   */
  async keepAlive(
    slot: string,
    token: FencingToken,
    secret: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ ttlS: number; expiresInMs: number }> {
    try {
      const { kv, delayLease } = await readOwnedKey(
        this.d.store,
        this.d.space,
        { name: slot, token, secret },
        opts.signal,
      );
      const sentAt = performance.now();
      // A lock-delay key's lease is renewed with the grant so it keeps outliving it by the delay.
      const [ttl] = await Promise.all([
        this.d.leases.keepAlive(kv.lease, opts),
        delayLease === undefined ? 0 : this.d.leases.keepAlive(delayLease, opts),
      ]);
      if (ttl <= 0)
        throw new DomainError(
          'grant_gone',
          `grant ${token} of ${this.d.space.noun} "${slot}" has expired`,
        );
      this.d.metrics.keepalives.inc({ outcome: 'ok' });
      return { ttlS: ttl, expiresInMs: timeRemaining(ttl, sentAt) };
    } catch (err) {
      this.d.metrics.keepalives.inc({
        outcome: err instanceof DomainError && err.code === 'grant_gone' ? 'gone' : 'error',
      });
      throw err;
    }
  }

  /**
   * Releases a grant: deletes its key only if it is still the key created at `token` (a retried
   * release never deletes a newer holder), records the clean release, then revokes a per-grant lease.
   */
  async release(
    slot: string,
    token: FencingToken,
    secret: string,
    opts: { signal?: AbortSignal } = {},
  ) {
    const { store, space } = this.d;
    const key = space.contender(slot, idOfSecret(secret));
    // With waiters here, the release also reads the new head, so the next one is served at once.
    const queue = this.room.queueIfAny(slot);
    const limit = queue?.headLimit;
    queue?.releaseStarted();
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
        queue?.offer(
          res.revision,
          rangeAt(res.results, 5).kvs,
          rangeAt(res.results, 6).kvs,
          sentAt,
        );
      }
    } finally {
      queue?.releaseEnded();
    }
    if (!res.succeeded)
      throw grantGoneOrNotHolder(this.d.space.noun, slot, token, rangeAt(res.results, 0).count);
    const kv = rangeAt(res.results, 0).kvs[0];
    if (kv !== undefined && decodeHolder(kv)?.session !== true && kv.lease !== '0') {
      this.withdraw.lease(kv.lease);
    }
    const delay = rangeAt(res.results, 3).kvs[0];
    if (delay !== undefined && delay.lease !== '0') this.withdraw.lease(delay.lease);
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
    await proclaimValue(this.d.store, this.d.space, { name, token, secret, value }, opts.signal);
  }

  /**
   * Withdraws the acquire made with `idempotencyKey` (waiting or holding): its key is deleted, so
   * the replica serving the long-poll answers `wait_cancelled`. Fails with `not_found` if none.
   */
  async cancel(
    slot: string,
    idempotencyKey: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const key = this.d.space.contender(
      slot,
      idOfSecret(secretFromIdempotencyKey(idempotencyKey, slot)),
    );
    const res = await this.d.store.txn(
      {
        compare: [{ key, target: 'version', op: '>', value: '0' }],
        success: [{ range: { key } }, { delete: { key } }],
      },
      opts,
    );
    const kv = res.succeeded ? rangeAt(res.results, 0).kvs[0] : undefined;
    if (kv === undefined) {
      throw new DomainError(
        'not_found',
        `no acquire with this Idempotency-Key is queued on ${this.d.space.noun} "${slot}"`,
      );
    }
    if (decodeHolder(kv)?.session !== true && kv.lease !== '0') this.withdraw.lease(kv.lease);
  }

  /** Reads the caller's key and checks it is the one created at `token`. */
  /** Time left for a session's lease, started alongside the acquire transaction. */
  private sessionTtl(leaseId: string, signal: AbortSignal | undefined): Promise<number> {
    const p = this.sessionDeadlines.remainingMs(leaseId, signal);
    p.catch(() => undefined);
    return p;
  }

  private async expiresIn(
    ttlS: number,
    sentAt: number,
    sessionRemainingMs: Promise<number> | undefined,
  ): Promise<number> {
    return sessionRemainingMs === undefined ? timeRemaining(ttlS, sentAt) : sessionRemainingMs;
  }
}

function acquireOutcome(err: unknown): string {
  if (!(err instanceof DomainError)) return 'error';
  switch (err.code) {
    case 'slot_busy':
      return 'busy';
    case 'wait_timeout':
      return 'timeout';
    case 'wait_cancelled':
      return 'cancelled';
    case 'capacity_conflict':
    case 'idempotency_conflict':
    case 'acquire_in_progress':
      return 'conflict';
    default:
      return 'error';
  }
}
