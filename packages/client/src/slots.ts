/** The typed slot client: acquire (returning a self-renewing {@link Grant}), reads, sessions. */
import { randomUUID } from 'node:crypto';
import { retrying, retryPolicy, type RetryPolicy } from './backoff.js';
import { Grant, keepGrantAlive, type GrantBody } from './grant.js';
import { type Confirmation } from './heartbeat.js';
import { Http, secretHeader, segment } from './http.js';
import type { ClientOptions } from './options.js';
import { leavesHalfTtl, monotonicNow } from './monotonic-deadline.js';
import { Session, type SessionBody } from './session.js';
import type { ForcedRelease, QueuePosition, SlotList, SlotView, TokenCheck } from './slot-views.js';

/** What to acquire, and how long to wait. */
export interface AcquireOptions {
  slot: string;
  /** Who holds it; shown to others, not a credential. */
  holder: string;
  /** Lease TTL in seconds (server default when absent; ignored under a session). */
  ttlSeconds?: number;
  /** Concurrent holders allowed (default 1); must match the slot's current capacity. */
  capacity?: number;
  /** How long to wait in the FIFO queue (ms, at most the server cap of 30 s); 0 or absent = try once. */
  waitMs?: number;
  /** Put the grant on this session's lease instead of its own. */
  session?: Session | string;
  /** Makes the acquire retry-safe; a random UUID by default. At least 16 characters. */
  idempotencyKey?: string;
  /** Aborting gives up (and withdraws a queued acquire on the server, best effort). */
  signal?: AbortSignal;
}

/**
 * Client of the slot API. `acquire` retries transient failures with the same Idempotency-Key,
 * so a retry can never take a second grant; 4xx answers (busy, timeouts, conflicts) are thrown
 * at once as {@link SlotlockError}s.
 */
export class SlotClient {
  private readonly http: Http;
  private readonly retry: RetryPolicy;
  private readonly marginMs: number | undefined;

  constructor(opts: ClientOptions = {}) {
    this.http = new Http(opts);
    this.retry = retryPolicy(opts.retry);
    this.marginMs = opts.marginMs;
  }

  /** Acquires a grant on a slot, waiting up to `waitMs` in the queue. */
  async acquire(opts: AcquireOptions): Promise<Grant> {
    const key = opts.idempotencyKey ?? randomUUID();
    const { signal } = opts;
    const started = monotonicNow();
    const session = typeof opts.session === 'string' ? opts.session : opts.session?.token;
    let sentAt = started;
    let body: GrantBody;
    try {
      body = await retrying(this.retry, signal, async () => {
        // A retry waits only for what is left of the caller's wait.
        const waitMs =
          opts.waitMs === undefined
            ? undefined
            : Math.max(0, Math.round(opts.waitMs - (monotonicNow() - started)));
        sentAt = monotonicNow();
        const res = await this.http.call<GrantBody>(
          'POST',
          `/v1/slots/${segment(opts.slot)}/grants`,
          {
            body: {
              holder: opts.holder,
              ttlSeconds: opts.ttlSeconds,
              capacity: opts.capacity,
              waitMs,
              session,
            },
            headers: { 'idempotency-key': key },
            signal,
            serverWaitMs: waitMs ?? 0,
          },
        );
        return res.body;
      });
    } catch (err) {
      if (signal?.aborted === true) this.withdraw(opts.slot, key);
      throw err;
    }
    const first = await this.freshConfirmation(
      body,
      { sentAt, expiresInMs: body.expiresInMs },
      signal,
    );
    return new Grant(this.http, body, key, first, { retry: this.retry, marginMs: this.marginMs });
  }

  /** Acquires, runs `fn` with the grant, and always releases it afterwards. */
  async withSlot<T>(opts: AcquireOptions, fn: (grant: Grant) => Promise<T>): Promise<T> {
    const grant = await this.acquire(opts);
    let result: T;
    try {
      result = await fn(grant);
    } catch (err) {
      try {
        await grant.release();
      } catch (releaseErr) {
        throw new AggregateError([err, releaseErr], 'the callback failed and so did the release', {
          cause: releaseErr,
        });
      }
      throw err;
    }
    await grant.release();
    return result;
  }

  /** Holders, waiters and the last clean release of a slot. */
  async inspect(slot: string, opts: { signal?: AbortSignal } = {}): Promise<SlotView> {
    return this.get<SlotView>(`/v1/slots/${segment(slot)}`, opts.signal);
  }

  /** Slots with holders or waiters, optionally under a name prefix. */
  async list(
    opts: { prefix?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<SlotList> {
    const q = new URLSearchParams();
    if (opts.prefix !== undefined) q.set('prefix', opts.prefix);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    const qs = q.size > 0 ? `?${q.toString()}` : '';
    return this.get<SlotList>(`/v1/slots${qs}`, opts.signal);
  }

  /** Whether `token` is still a current grant of `slot` (the REST form of a sequencer check). */
  async check(
    slot: string,
    token: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<TokenCheck> {
    return this.get<TokenCheck>(`/v1/slots/${segment(slot)}/tokens/${token}`, opts.signal);
  }

  /**
   * Admin: ends grant `token` of `slot` without its secret (a stuck holder with a long TTL), via
   * `DELETE /v1/admin/slots/{slot}/grants/{token}`. Needs the `admin` permission when the server
   * has authentication; `grant_gone` if the grant no longer exists.
   */
  async forceRelease(
    slot: string,
    token: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ForcedRelease> {
    const res = await retrying(this.retry, opts.signal, () =>
      this.http.call<ForcedRelease>('DELETE', `/v1/admin/slots/${segment(slot)}/grants/${token}`, {
        signal: opts.signal,
      }),
    );
    return res.body;
  }

  /** Queue position of the acquire made with `idempotencyKey` (`not_found` if none). */
  async position(
    slot: string,
    idempotencyKey: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<QueuePosition> {
    const res = await retrying(this.retry, opts.signal, () =>
      this.http.call<QueuePosition>('GET', `/v1/slots/${segment(slot)}/queue`, {
        headers: { 'idempotency-key': idempotencyKey },
        signal: opts.signal,
      }),
    );
    return res.body;
  }

  /** Withdraws the acquire made with `idempotencyKey`, waiting or holding (`not_found` if none). */
  async cancel(
    slot: string,
    idempotencyKey: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await retrying(this.retry, opts.signal, () =>
      this.http.call('DELETE', `/v1/slots/${segment(slot)}/queue`, {
        headers: { 'idempotency-key': idempotencyKey },
        signal: opts.signal,
      }),
    );
  }

  /** Creates a session kept alive in the background; grants acquired with it share its lease. */
  async createSession(opts: { ttlSeconds?: number; signal?: AbortSignal } = {}): Promise<Session> {
    // Not retried: a lost answer would leave an unknown session to expire on its own.
    const sentAt = monotonicNow();
    const res = await this.http.call<SessionBody>('POST', '/v1/sessions', {
      body: { ttlSeconds: opts.ttlSeconds },
      signal: opts.signal,
    });
    const first = { sentAt, expiresInMs: res.body.expiresInMs };
    return new Session(this.http, res.body, first, { retry: this.retry, marginMs: this.marginMs });
  }

  private async get<T>(path: string, signal: AbortSignal | undefined): Promise<T> {
    const res = await retrying(this.retry, signal, () =>
      this.http.call<T>('GET', path, { signal }),
    );
    return res.body;
  }

  /**
   * A grant that waited (or whose answer was retried) may carry a confirmation anchored at a
   * request sent long ago; renew once before handing it over so its deadline is fresh.
   */
  private async freshConfirmation(
    body: GrantBody,
    first: Confirmation,
    signal: AbortSignal | undefined,
  ): Promise<Confirmation> {
    if (leavesHalfTtl(first, body.ttlSeconds * 1000, this.marginMs)) return first;
    try {
      return await retrying(this.retry, signal, async () => {
        const sentAt = monotonicNow();
        return { sentAt, expiresInMs: await keepGrantAlive(this.http, body, signal) };
      });
    } catch (err) {
      this.releaseQuietly(body);
      throw err;
    }
  }

  /** Best effort, in the background: the lease expires on its own if this fails. */
  private releaseQuietly(body: GrantBody): void {
    const path = `/v1/slots/${segment(body.slot)}/grants/${body.token}`;
    this.http.call('DELETE', path, { headers: secretHeader(body.secret) }).catch(() => undefined);
  }

  /** Best effort, in the background: the server also drops a waiter whose connection closed. */
  private withdraw(slot: string, key: string): void {
    this.http
      .call('DELETE', `/v1/slots/${segment(slot)}/queue`, { headers: { 'idempotency-key': key } })
      .catch(() => undefined);
  }
}
