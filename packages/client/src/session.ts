/** A client session: one lease that many grants can share, kept alive in the background. */
import { retrying, type RetryPolicy } from './backoff.js';
import { isLoss, isSlotlockError, SlotlockError } from './errors.js';
import { Heartbeat, type Confirmation } from './heartbeat.js';
import { secretHeader, type Http } from './http.js';

/** The body of a 201 answer to `POST /v1/sessions`. */
export interface SessionBody {
  session: string;
  id: string;
  ttlSeconds: number;
  expiresInMs: number;
}

/** Settings a {@link Session} inherits from its client. */
export interface SessionSettings {
  retry: RetryPolicy;
  marginMs?: number | undefined;
}

/**
 * A session kept alive every TTL/3. Grants acquired with it live on its lease, so ending the
 * session (or losing it) releases all of them at once. `signal` aborts when the local deadline
 * passes before a keepalive confirmed the session, when the server answers `session_gone`, or
 * on {@link Session.end}; every grant taken under it must then be treated as lost.
 */
export class Session implements AsyncDisposable {
  /** The session id (the lease id in hex); public. */
  readonly id: string;
  readonly ttlSeconds: number;
  /** The session token `<id>.<secret>`: a credential, pass it to acquire. Never log it. */
  readonly token: string;
  private readonly heartbeat: Heartbeat;
  private ended: Promise<void> | undefined;

  constructor(
    private readonly http: Http,
    body: SessionBody,
    first: Confirmation,
    private readonly settings: SessionSettings,
  ) {
    this.id = body.id;
    this.ttlSeconds = body.ttlSeconds;
    this.token = body.session;
    this.heartbeat = new Heartbeat({
      what: `session ${body.id}`,
      ttlMs: body.ttlSeconds * 1000,
      first,
      marginMs: settings.marginMs,
      retry: settings.retry,
      renew: async signal => {
        const res = await http.call<{ expiresInMs: number }>(
          'POST',
          `/v1/sessions/${body.id}/keepalive`,
          { headers: secretHeader(body.session), signal },
        );
        return res.body.expiresInMs;
      },
    });
  }

  /** Aborted (with a {@link SlotlockError} reason) once the session must be treated as lost. */
  get signal(): AbortSignal {
    return this.heartbeat.signal;
  }

  /** Local time left, in whole ms, before the session must be treated as lost; 0 once lost. */
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
   * Stops the keepalive, aborts `signal` (reason code `released`) and ends the session on the
   * server, which releases every grant under it. A session already gone counts as ended.
   */
  end(opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.ended ??= this.endOnce(opts.signal);
    return this.ended;
  }

  /** Ends the session (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  private async endOnce(signal: AbortSignal | undefined): Promise<void> {
    const lostBefore: unknown = this.signal.aborted ? this.signal.reason : undefined;
    await this.heartbeat.stop(
      new SlotlockError({ code: 'released', status: 0, detail: `session ${this.id} was ended` }),
    );
    if (isLoss(lostBefore) || isSlotlockError(lostBefore, 'session_gone')) return;
    try {
      await retrying(this.settings.retry, signal, () =>
        this.http.call('DELETE', `/v1/sessions/${this.id}`, {
          headers: secretHeader(this.token),
          signal,
        }),
      );
    } catch (err) {
      if (!isSlotlockError(err, 'session_gone')) throw err;
    }
  }
}
