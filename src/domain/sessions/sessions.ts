import type { EtcdStore } from '../../etcd/store.js';
import type { KeyLayout } from '../../etcd/keys.js';
import type { LeaseKeeper } from '../../etcd/lease-keeper.js';
import { DomainError, InvalidInputError } from '../errors.js';
import { idOfSecret, newSecret } from '../secrets.js';
import { timeRemaining } from '../grant.js';
import type { SessionDeadlines } from './session-deadlines.js';
import type { SessionRef } from '../slots/semaphore.js';
import type { QuotaHook } from '../quota-hook.js';

/** A client session as handed to its owner: the token is `<lease-hex>.<secret>`; keep it private. */
export interface Session {
  session: string;
  ttlS: number;
  expiresInMs: number;
}

/** What anyone may read about a session by its id: the TTL of its lease and the time left. */
export interface SessionView {
  id: string;
  ttlS: number;
  expiresInMs: number;
}

/**
 * Client sessions: one etcd lease a client keeps alive and takes many grants under (one
 * transaction each). A marker key on the lease, named by the hash of the session secret, proves
 * both that the lease is alive and that the caller holds the secret. Ending a session revokes its
 * lease, which releases every grant taken under it. A session is never shared between clients.
 */
export class Sessions {
  constructor(
    private readonly store: EtcdStore,
    private readonly keys: KeyLayout,
    private readonly leases: LeaseKeeper,
    private readonly deadlines: SessionDeadlines,
  ) {}

  /** Creates a session; `quota` (the caller's quota of sessions) is checked before it is written. */
  async create(
    ttlS: number,
    opts: { signal?: AbortSignal; quota?: QuotaHook | undefined } = {},
  ): Promise<Session> {
    const sentAt = performance.now();
    const leaseP = this.store.leaseGrant(ttlS, opts);
    let leaseId: string;
    try {
      [leaseId] = await Promise.all([leaseP, opts.quota?.admit(opts.signal)]);
    } catch (err) {
      leaseP
        .then(
          id => this.store.leaseRevoke(id),
          () => undefined,
        )
        .catch(() => undefined);
      throw err;
    }
    const secret = newSecret();
    const leaseHex = BigInt(leaseId).toString(16);
    try {
      await this.store.txn(
        {
          compare: [],
          success: [
            {
              put: {
                key: this.keys.session(leaseHex, idOfSecret(secret)),
                value: JSON.stringify({ ttlS, at: Date.now() }),
                lease: leaseId,
              },
            },
            ...(opts.quota === undefined
              ? []
              : [{ put: { key: opts.quota.keyFor(leaseHex), value: leaseHex, lease: leaseId } }]),
          ],
        },
        opts,
      );
    } catch (err) {
      await this.store.leaseRevoke(leaseId).catch(() => undefined);
      throw err;
    }
    this.deadlines.renewed(leaseId, ttlS, sentAt);
    return { session: `${leaseHex}.${secret}`, ttlS, expiresInMs: timeRemaining(ttlS, sentAt) };
  }

  /** Parses a session token into the lease and marker an acquire checks in its transaction. */
  resolve(token: string): SessionRef {
    const match = /^([0-9a-f]{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new InvalidInputError('the session token is malformed', [
        {
          pointer: '/session',
          detail: 'expected "<lease-hex>.<secret>" as returned by POST /v1/sessions',
        },
      ]);
    }
    return {
      leaseId: BigInt(`0x${match[1]}`).toString(),
      markerKey: this.keys.session(match[1], idOfSecret(match[2])),
    };
  }

  async keepAlive(token: string, opts: { signal?: AbortSignal } = {}): Promise<Session> {
    const ref = this.resolve(token);
    await this.requireLive(ref, opts.signal);
    const sentAt = performance.now();
    const ttl = await this.leases.keepAlive(ref.leaseId, opts);
    if (ttl <= 0) throw new DomainError('session_gone', 'the session has expired');
    this.deadlines.renewed(ref.leaseId, ttl, sentAt);
    return { session: token, ttlS: ttl, expiresInMs: timeRemaining(ttl, sentAt) };
  }

  /**
   * Reads a session by its id (its lease in hex), without the secret: the TTL etcd granted the
   * lease and the time left on it. `session_gone` unless the lease is alive and carries a session
   * marker, so the lease of a plain grant is never described as a session.
   */
  async read(id: string, opts: { signal?: AbortSignal } = {}): Promise<SessionView> {
    const sentAt = performance.now();
    const [markers, ttl] = await Promise.all([
      this.store.range({ prefix: this.keys.session(id, ''), countOnly: true }, opts),
      this.store.leaseTimeToLive(BigInt(`0x${id}`).toString(), opts),
    ]);
    if (markers.count === 0 || ttl.ttlS < 0) {
      throw new DomainError('session_gone', `no live session has id ${id} (ended or expired)`);
    }
    return { id, ttlS: ttl.grantedTtlS, expiresInMs: timeRemaining(ttl.ttlS, sentAt) };
  }

  /** Ends the session: every grant under it is released at once. */
  async end(token: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const ref = this.resolve(token);
    await this.requireLive(ref, opts.signal);
    if (!(await this.store.leaseRevoke(ref.leaseId, opts))) {
      throw new DomainError('session_gone', 'the session has already ended or expired');
    }
    this.deadlines.ended(ref.leaseId);
  }

  private async requireLive(ref: SessionRef, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.store.range({ key: ref.markerKey, countOnly: true }, { signal });
    if (res.count === 0) {
      throw new DomainError(
        'session_gone',
        'no live session matches this token (ended, expired, or wrong secret)',
      );
    }
  }
}
