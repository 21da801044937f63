/** A held slot grant: its fencing token, its loss signal, its background keepalive, its release. */
import { retrying, type RetryPolicy } from './backoff.js';
import { isLoss, isSlotlockError, SlotlockError } from './errors.js';
import { Heartbeat, type Confirmation } from './heartbeat.js';
import { secretHeader, segment, type Http } from './http.js';

/** The body of a 201/200 answer to `POST /v1/slots/{slot}/grants`. */
export interface GrantBody {
  slot: string;
  token: string;
  secret: string;
  holder: string;
  capacity: number;
  ttlSeconds: number;
  expiresInMs: number;
  waited: boolean;
  session: boolean;
}

/** The body of a 200 answer to a grant keepalive. */
export interface GrantKeepAliveBody {
  slot: string;
  token: string;
  ttlSeconds: number;
  expiresInMs: number;
}

/** Settings a {@link Grant} inherits from its client. */
export interface GrantSettings {
  retry: RetryPolicy;
  marginMs?: number | undefined;
}

/** Sends one keepalive for a grant; resolves with the server's `expiresInMs`. */
export async function keepGrantAlive(
  http: Http,
  g: { slot: string; token: string; secret: string },
  signal: AbortSignal | undefined,
): Promise<number> {
  const res = await http.call<GrantKeepAliveBody>(
    'POST',
    `${grantPath(g.slot, g.token)}/keepalive`,
    {
      headers: secretHeader(g.secret),
      signal,
    },
  );
  return res.body.expiresInMs;
}

function grantPath(slot: string, token: string): string {
  return `/v1/slots/${segment(slot)}/grants/${token}`;
}

/**
 * A grant on a slot, kept alive in the background every TTL/3 until released or lost.
 *
 * `token` is the fencing token: a decimal string (an etcd revision, never convert it to a
 * number) that only grows for a slot; compare it only with tokens of the same slot (another
 * slot's grant may carry the same number). Send it with every write to the protected resource.
 * `signal` aborts when this process must stop acting as holder: when the local deadline
 * (TTL minus a safety margin, on a monotonic clock, from the last confirmed keepalive's send
 * time) passes, when the server answers `grant_gone`/`not_holder`, or on {@link Grant.release}.
 * A process that may have been paused should also check {@link Grant.expiresInMs} right
 * before a write, since timers fire late after a pause.
 */
export class Grant implements AsyncDisposable {
  readonly slot: string;
  /** Fencing token (etcd create revision) as a decimal string. */
  readonly token: string;
  readonly holder: string;
  readonly capacity: number;
  readonly ttlSeconds: number;
  /** True if the request waited in the queue before being granted. */
  readonly waited: boolean;
  /** True if the grant lives on a client session's lease. */
  readonly session: boolean;
  /** The Idempotency-Key the acquire was sent with; a retry with it returns this same grant. */
  readonly idempotencyKey: string;
  /** The holder secret: a credential for renew and release. Never log it. */
  readonly secret: string;
  private readonly heartbeat: Heartbeat;
  private released: Promise<void> | undefined;

  constructor(
    private readonly http: Http,
    body: GrantBody,
    idempotencyKey: string,
    first: Confirmation,
    private readonly settings: GrantSettings,
  ) {
    this.slot = body.slot;
    this.token = body.token;
    this.holder = body.holder;
    this.capacity = body.capacity;
    this.ttlSeconds = body.ttlSeconds;
    this.waited = body.waited;
    this.session = body.session;
    this.idempotencyKey = idempotencyKey;
    this.secret = body.secret;
    this.heartbeat = new Heartbeat({
      what: `grant ${body.token} of slot "${body.slot}"`,
      ttlMs: body.ttlSeconds * 1000,
      first,
      marginMs: settings.marginMs,
      retry: settings.retry,
      renew: signal => keepGrantAlive(http, this, signal),
    });
  }

  /** Aborted (with a {@link SlotlockError} reason) once this process must stop acting as holder. */
  get signal(): AbortSignal {
    return this.heartbeat.signal;
  }

  /** Local time left, in whole ms, before this process must stop acting as holder; 0 once lost. */
  expiresInMs(): number {
    return this.heartbeat.remainingMs();
  }

  /**
   * Throws the loss reason (a {@link SlotlockError}) if this must already be treated as lost.
   * Call it right before a write: it reads the monotonic clock itself, while `signal` relies on
   * a timer that a paused process (GC, SIGSTOP, swap) cannot run on time.
   */
  assertHeld(): void {
    this.heartbeat.assertAlive();
  }

  /**
   * Calls `listener` with the loss reason when `signal` aborts (at once if it already has),
   * besides the signal. Returns a function that removes the listener.
   */
  onLost(listener: (reason: SlotlockError) => void): () => void {
    return this.heartbeat.onLost(listener);
  }

  /**
   * Stops the keepalive, aborts `signal` (reason code `released`), then deletes the grant on the
   * server, retrying transient failures. A grant that is already gone counts as released. Calling
   * it again returns the same promise.
   */
  release(opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.released ??= this.releaseOnce(opts.signal);
    return this.released;
  }

  /** Releases the grant (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  private async releaseOnce(signal: AbortSignal | undefined): Promise<void> {
    const lostBefore: unknown = this.signal.aborted ? this.signal.reason : undefined;
    await this.heartbeat.stop(
      new SlotlockError({ code: 'released', status: 0, detail: `${this.describe()} was released` }),
    );
    if (isLoss(lostBefore)) return;
    try {
      await retrying(this.settings.retry, signal, () =>
        this.http.call('DELETE', grantPath(this.slot, this.token), {
          headers: secretHeader(this.secret),
          signal,
        }),
      );
    } catch (err) {
      if (!isSlotlockError(err, 'grant_gone')) throw err;
    }
  }

  private describe(): string {
    return `grant ${this.token} of slot "${this.slot}"`;
  }
}
