import type { Logger } from 'pino';
import type { ContenderSpace } from '../../etcd/keys.js';
import type { LeaseKeeper } from '../../etcd/lease-keeper.js';
import type { LeasePool } from '../../etcd/lease-pool.js';
import type { EtcdStore } from '../../etcd/store.js';
import type { Metrics } from '../../metrics.js';
import type { Cleanup } from '../cleanup.js';
import type { MarkerLeases } from '../marker-leases.js';
import type { QuotaHook } from '../quota-hook.js';
import { timeRemaining, type Handover } from '../grant.js';
import { DomainError } from '../errors.js';
import type { SessionDeadlines } from '../sessions/session-deadlines.js';
import type { GrantEnds } from './grant-ends.js';
import type { SlotWatch } from './slot-watch.js';
import type { WaitingRoom } from './waiting-room.js';
import type { Withdrawals } from './withdrawals.js';

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
  /** The caller's per-principal quota: admitted before the lease, its ledger key put with the key. */
  quota?: QuotaHook | undefined;
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
  /** Leases for release markers, so an idle slot's marker expires (absent: markers stay). */
  markerLeases?: MarkerLeases | undefined;
  /** Told of every handover to a waiter of this replica (the election SLI). */
  onHandover?: ((name: string, handover: Handover) => void) | undefined;
  /** Per-grant leases granted ahead of the acquires that take them (absent: granted inline). */
  leasePool?: LeasePool | undefined;
}

/** What the semaphore's verbs share: its dependencies and this replica's in-memory bookkeeping. */
export interface SemaphoreContext extends SemaphoreDeps {
  room: WaitingRoom;
  ends: GrantEnds;
  withdraw: Withdrawals;
  sessionDeadlines: SessionDeadlines;
}

/** Time left for a session's lease, started alongside the acquire transaction. */
export function sessionTtl(
  c: SemaphoreContext,
  leaseId: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  const p = c.sessionDeadlines.remainingMs(leaseId, signal);
  p.catch(() => undefined);
  return p;
}

/**
 * A per-grant lease with less than half its TTL left (a waiter promoted right after etcd was
 * slow or paused: its last keepalive was sent long ago) is renewed before the grant is answered,
 * so no grant is born nearly dead. Resolves with the time left to answer.
 */
export async function renewIfShort(
  c: SemaphoreContext,
  perGrantLeaseId: string | undefined,
  ttlS: number,
  expiresInMs: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (perGrantLeaseId === undefined || expiresInMs >= ttlS * 500) return expiresInMs;
  const sentAt = performance.now();
  const ttl = await c.leases.keepAlive(perGrantLeaseId, { signal });
  if (ttl <= 0) {
    throw new DomainError('grant_gone', 'the grant expired before it could be answered');
  }
  return timeRemaining(ttl, sentAt);
}

/** A grant's time left: the session's, or the TTL counted from when the lease was last sent. */
export async function expiresIn(
  ttlS: number,
  sentAt: number,
  sessionRemainingMs: Promise<number> | undefined,
): Promise<number> {
  return sessionRemainingMs === undefined ? timeRemaining(ttlS, sentAt) : sessionRemainingMs;
}
