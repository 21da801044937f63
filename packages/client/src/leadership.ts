/** A won election term: its term token, its loss signal, its keepalive, proclaim and resign. */
import { retrying, type RetryPolicy } from './backoff.js';
import { isLoss, isSlotlockError, SlotlockError } from './errors.js';
import { Heartbeat, type Confirmation } from './heartbeat.js';
import { secretHeader, segment, type Http } from './http.js';

/** The body of a 201 answer to `POST /v1/elections/{name}/campaign`. */
export interface CampaignBody {
  election: string;
  token: string;
  secret: string;
  candidate: string;
  value: string;
  ttlSeconds: number;
  expiresInMs: number;
  waited: boolean;
}

/** Settings a {@link Leadership} inherits from its client. */
export interface LeadershipSettings {
  retry: RetryPolicy;
  marginMs?: number | undefined;
}

/** Path of a term: `/v1/elections/{name}/leaders/{token}`. */
export function termPath(election: string, token: string): string {
  return `/v1/elections/${segment(election)}/leaders/${token}`;
}

/** Sends one keepalive for a term; resolves with the server's `expiresInMs`. */
export async function keepTermAlive(
  http: Http,
  t: { election: string; token: string; secret: string },
  signal: AbortSignal | undefined,
): Promise<number> {
  const res = await http.call<{ expiresInMs: number }>(
    'POST',
    `${termPath(t.election, t.token)}/keepalive`,
    { headers: secretHeader(t.secret), signal },
  );
  return res.body.expiresInMs;
}

/**
 * Leadership of an election, kept alive every TTL/3 until resigned or lost.
 *
 * `token` is the term token (an etcd revision as a decimal string): stamp it on every write the
 * leader makes so resources can reject a deposed leader. `signal` aborts when leadership must
 * be considered lost: the local deadline (TTL minus a safety margin, monotonic clock, from the
 * last confirmed keepalive's send time) passed, the server said the term is gone, or
 * {@link Leadership.resign} was called. A leader that may have been paused should also check
 * {@link Leadership.expiresInMs} right before a write.
 */
export class Leadership implements AsyncDisposable {
  readonly election: string;
  /** Term (fencing) token: the etcd create revision of this candidacy, as a decimal string. */
  readonly token: string;
  readonly candidate: string;
  readonly ttlSeconds: number;
  /** True if the campaign waited for an earlier leader to go. */
  readonly waited: boolean;
  /** The term secret: a credential for keepalive, proclaim and resign. Never log it. */
  readonly secret: string;
  private currentValue: string;
  private readonly heartbeat: Heartbeat;
  private resigned: Promise<void> | undefined;

  constructor(
    private readonly http: Http,
    body: CampaignBody,
    first: Confirmation,
    private readonly settings: LeadershipSettings,
  ) {
    this.election = body.election;
    this.token = body.token;
    this.candidate = body.candidate;
    this.ttlSeconds = body.ttlSeconds;
    this.waited = body.waited;
    this.secret = body.secret;
    this.currentValue = body.value;
    this.heartbeat = new Heartbeat({
      what: `term ${body.token} of election "${body.election}"`,
      ttlMs: body.ttlSeconds * 1000,
      first,
      marginMs: settings.marginMs,
      retry: settings.retry,
      renew: signal => keepTermAlive(http, this, signal),
    });
  }

  /** Aborted (with a {@link SlotlockError} reason) once leadership must be considered lost. */
  get signal(): AbortSignal {
    return this.heartbeat.signal;
  }

  /** The value this leader last proclaimed (or campaigned with). */
  get value(): string {
    return this.currentValue;
  }

  /** Local time left, in whole ms, before leadership must be considered lost; 0 once lost. */
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
   * Publishes a new value for observers, as this term. Throws the loss reason if leadership is
   * already lost; a `grant_gone`/`not_holder` answer also ends the leadership.
   */
  async proclaim(value: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.signal.aborted) throw this.signal.reason;
    try {
      await retrying(this.settings.retry, opts.signal, () =>
        this.http.call('PUT', `${termPath(this.election, this.token)}/value`, {
          body: { value },
          headers: secretHeader(this.secret),
          signal: opts.signal,
        }),
      );
      this.currentValue = value;
    } catch (err) {
      if (isLoss(err)) await this.heartbeat.stop(err as SlotlockError);
      throw err;
    }
  }

  /**
   * Stops the keepalive, aborts `signal` (reason code `released`), then gives up the term on the
   * server so the next candidate is elected at once. A term already gone counts as resigned.
   */
  resign(opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.resigned ??= this.resignOnce(opts.signal);
    return this.resigned;
  }

  /** Resigns (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.resign();
  }

  private async resignOnce(signal: AbortSignal | undefined): Promise<void> {
    const lostBefore: unknown = this.signal.aborted ? this.signal.reason : undefined;
    await this.heartbeat.stop(
      new SlotlockError({
        code: 'released',
        status: 0,
        detail: `term ${this.token} of election "${this.election}" was resigned`,
      }),
    );
    if (isLoss(lostBefore)) return;
    try {
      await retrying(this.settings.retry, signal, () =>
        this.http.call('DELETE', termPath(this.election, this.token), {
          headers: secretHeader(this.secret),
          signal,
        }),
      );
    } catch (err) {
      if (!isSlotlockError(err, 'grant_gone')) throw err;
    }
  }
}
