/**
 * Bundles: several slots taken together, all or none (`POST /v1/bundles`). The server orders
 * bundles and single-slot acquires the same way in every slot, so waiting for a bundle is FIFO
 * and never deadlocks, unlike taking the slots one by one.
 */
import { randomUUID } from 'node:crypto';
import { retrying, retryPolicy, type RetryPolicy } from './backoff.js';
import { isLoss, isSlotlockError, SlotlockError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { Http, secretHeader } from './http.js';
import { monotonicNow } from './monotonic-deadline.js';
import type { ClientOptions } from './options.js';
import type { Session } from './session.js';

/** One slot of a bundle; capacity and lock-delay must match the slot's. */
export interface BundleSlotOptions {
  slot: string;
  capacity?: number;
  lockDelayMs?: number;
}

/** What to acquire together, and how long to wait for all of it. */
export interface BundleOptions {
  slots: readonly (string | BundleSlotOptions)[];
  holder: string;
  ttlSeconds?: number;
  /** How long to wait until every slot has room (ms); 0 or absent = try once (`slot_busy`). */
  waitMs?: number;
  session?: Session | string;
  /** Makes the acquire retry-safe; a random UUID by default. At least 16 characters. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** The body of a 201/200 answer to `POST /v1/bundles`. */
export interface BundleBody {
  bundle: string;
  token: string;
  secret: string;
  holder: string;
  slots: { slot: string; token: string; capacity: number; lockDelayMs: number }[];
  ttlSeconds: number;
  expiresInMs: number;
  waited: boolean;
  session: boolean;
}

/**
 * A held bundle, kept alive in the background every TTL/3 until released or lost. `token` is the
 * fencing token of the bundle in EACH of its slots (compare it only within one slot); `signal`
 * aborts once this process must stop acting as holder of all of them.
 */
export class Bundle implements AsyncDisposable {
  readonly id: string;
  readonly token: string;
  readonly slots: BundleBody['slots'];
  readonly waited: boolean;
  /** The bundle secret: a credential for renew and release. Never log it. */
  readonly secret: string;
  private readonly heartbeat: Heartbeat;
  private released: Promise<void> | undefined;

  constructor(
    private readonly http: Http,
    body: BundleBody,
    sentAt: number,
    private readonly retry: RetryPolicy,
    marginMs: number | undefined,
  ) {
    this.id = body.bundle;
    this.token = body.token;
    this.slots = body.slots;
    this.waited = body.waited;
    this.secret = body.secret;
    this.heartbeat = new Heartbeat({
      what: `bundle ${body.token}`,
      ttlMs: body.ttlSeconds * 1000,
      first: { sentAt, expiresInMs: body.expiresInMs },
      marginMs,
      retry,
      renew: async signal => {
        const res = await http.call<{ expiresInMs: number }>(
          'POST',
          `/v1/bundles/${body.token}/keepalive`,
          { headers: secretHeader(body.secret), signal },
        );
        return res.body.expiresInMs;
      },
    });
  }

  /** Aborted (with a SlotlockError reason) once this process must stop acting as holder. */
  get signal(): AbortSignal {
    return this.heartbeat.signal;
  }

  /** Throws the loss reason if the bundle must already be treated as lost (call before a write). */
  assertHeld(): void {
    this.heartbeat.assertAlive();
  }

  /** Stops the keepalive and releases every slot of the bundle at once; idempotent. */
  release(opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.released ??= this.releaseOnce(opts.signal);
    return this.released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  private async releaseOnce(signal: AbortSignal | undefined): Promise<void> {
    const lostBefore: unknown = this.signal.aborted ? this.signal.reason : undefined;
    await this.heartbeat.stop(
      new SlotlockError({
        code: 'released',
        status: 0,
        detail: `bundle ${this.token} was released`,
      }),
    );
    if (isLoss(lostBefore)) return;
    try {
      await retrying(this.retry, signal, () =>
        this.http.call('DELETE', `/v1/bundles/${this.token}`, {
          headers: secretHeader(this.secret),
          signal,
        }),
      );
    } catch (err) {
      if (!isSlotlockError(err, 'grant_gone')) throw err;
    }
  }
}

/**
 * Client of the bundle API. `acquire` retries transient failures with the same Idempotency-Key,
 * so a retry never takes a second bundle; 4xx answers are thrown at once (`slot_busy` carries
 * `busy`, the slots that had no room).
 */
export class BundleClient {
  private readonly http: Http;
  private readonly retry: RetryPolicy;
  private readonly marginMs: number | undefined;

  constructor(opts: ClientOptions) {
    this.http = new Http(opts);
    this.retry = retryPolicy(opts.retry);
    this.marginMs = opts.marginMs;
  }

  /** Acquires every slot of `opts.slots` together, waiting up to `waitMs`. */
  async acquire(opts: BundleOptions): Promise<Bundle> {
    const key = opts.idempotencyKey ?? randomUUID();
    const started = monotonicNow();
    const session = typeof opts.session === 'string' ? opts.session : opts.session?.token;
    const slots = opts.slots.map(s => (typeof s === 'string' ? { slot: s } : s));
    let sentAt = started;
    const body = await retrying(this.retry, opts.signal, async () => {
      const waitMs =
        opts.waitMs === undefined
          ? undefined
          : Math.max(0, Math.round(opts.waitMs - (monotonicNow() - started)));
      sentAt = monotonicNow();
      const res = await this.http.call<BundleBody>('POST', '/v1/bundles', {
        body: { holder: opts.holder, ttlSeconds: opts.ttlSeconds, waitMs, session, slots },
        headers: { 'idempotency-key': key },
        signal: opts.signal,
        serverWaitMs: waitMs ?? 0,
      });
      return res.body;
    });
    return new Bundle(this.http, body, sentAt, this.retry, this.marginMs);
  }

  /** Acquires a bundle, runs `fn` with it, and always releases it afterwards. */
  async withBundle<T>(opts: BundleOptions, fn: (bundle: Bundle) => Promise<T>): Promise<T> {
    const bundle = await this.acquire(opts);
    try {
      return await fn(bundle);
    } finally {
      await bundle.release();
    }
  }
}
