/** The typed election client: campaign until elected, read the leader, observe changes. */
import { backoffMs, delay, isAborted, retrying, retryPolicy, type RetryPolicy } from './backoff.js';
import { isLoss, isSlotlockError, isTransient, SlotlockError } from './errors.js';
import type { Confirmation } from './heartbeat.js';
import { Http, secretHeader, segment } from './http.js';
import { observeLeader, type LeaderChange, type ObserveOptions } from './leader-stream.js';
import { keepTermAlive, Leadership, termPath, type CampaignBody } from './leadership.js';
import { leavesHalfTtl, monotonicNow } from './monotonic-deadline.js';
import { lead, type LeaderFunction, type LeadOptions } from './lead.js';
import type { ClientOptions } from './options.js';

/** What to campaign for. */
export interface CampaignOptions {
  election: string;
  /** Who campaigns; shown to observers, not a credential. */
  candidate: string;
  /** Initial value published with the leadership (e.g. an address). */
  value?: string;
  /** Term lease TTL in seconds (server default when absent). */
  ttlSeconds?: number;
  /** Length of each long-poll in ms (default 30 000, the server cap). */
  pollMs?: number;
  /** Gives up the campaign; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Client of the election API. `campaign` resolves only when this candidate leads, returning a
 * {@link Leadership} whose `signal` says when it stops leading; `observe` streams leader changes.
 */
export class ElectionClient {
  private readonly http: Http;
  private readonly retry: RetryPolicy;
  private readonly marginMs: number | undefined;

  constructor(opts: ClientOptions = {}) {
    this.http = new Http(opts);
    this.retry = retryPolicy(opts.retry);
    this.marginMs = opts.marginMs;
  }

  /**
   * Campaigns until elected: long-polls of `pollMs` are repeated after each `wait_timeout`, a
   * candidacy lost while waiting (`wait_cancelled`) is made again, and transient failures are
   * retried with backoff, until elected or `signal` aborts (the promise then rejects with
   * `signal.reason`). Aborting closes the long-poll, which withdraws the candidacy on the server.
   */
  async campaign(opts: CampaignOptions): Promise<Leadership> {
    const { signal } = opts;
    const pollMs = opts.pollMs ?? 30_000;
    const path = `/v1/elections/${segment(opts.election)}/campaign`;
    for (let attempt = 0; ;) {
      if (isAborted(signal)) throw signal?.reason;
      const sentAt = monotonicNow();
      let body: CampaignBody;
      try {
        const res = await this.http.call<CampaignBody>('POST', path, {
          body: {
            candidate: opts.candidate,
            value: opts.value,
            ttlSeconds: opts.ttlSeconds,
            waitMs: pollMs,
          },
          signal,
          serverWaitMs: pollMs,
        });
        body = res.body;
      } catch (err) {
        if (isAborted(signal)) throw signal?.reason;
        if (isSlotlockError(err, 'wait_timeout')) {
          attempt = 0;
          continue;
        }
        // wait_cancelled: the candidacy's key went away while waiting (its lease ran out during
        // a server or etcd stall); the campaign starts over with a new candidacy.
        if (
          !isTransient(err) &&
          !isSlotlockError(err, 'not_leader') &&
          !isSlotlockError(err, 'wait_cancelled')
        ) {
          throw err;
        }
        const retryAfterS = err instanceof SlotlockError ? err.retryAfterS : undefined;
        if (!(await delay(backoffMs(attempt++, this.retry, retryAfterS), signal))) {
          throw signal?.reason;
        }
        continue;
      }
      const first = await this.freshConfirmation(
        body,
        { sentAt, expiresInMs: body.expiresInMs },
        signal,
      );
      // Elected, but the term ended before it could be confirmed: campaign again.
      if (first === undefined) continue;
      return new Leadership(this.http, body, first, { retry: this.retry, marginMs: this.marginMs });
    }
  }

  /**
   * Runs `fn` whenever this candidate leads (see {@link lead}): campaign, run, re-campaign when
   * `fn` returns or the term is lost; resign and resolve once `opts.signal` aborts.
   */
  lead(opts: LeadOptions, fn: LeaderFunction): Promise<void> {
    return lead(this, opts, fn);
  }

  /** The current leader (or null), read linearizably. */
  async leader(opts: { election: string; signal?: AbortSignal }): Promise<LeaderChange> {
    const path = `/v1/elections/${segment(opts.election)}/leader`;
    const res = await retrying(this.retry, opts.signal, () =>
      this.http.call<LeaderChange>('GET', path, { signal: opts.signal }),
    );
    return res.body;
  }

  /**
   * The current leader state, then every change, as an AsyncIterable. Reconnects with
   * `Last-Event-ID` after a dropped connection; ends without error when `signal` aborts or the
   * loop is left early.
   */
  observe(opts: ObserveOptions): AsyncIterable<LeaderChange> {
    return observeLeader(this.http, this.retry, opts);
  }

  /**
   * A term won after a long-poll is anchored at an old send time: renew once before use.
   * Resolves undefined if the server says the term is already gone.
   */
  private async freshConfirmation(
    body: CampaignBody,
    first: Confirmation,
    signal: AbortSignal | undefined,
  ): Promise<Confirmation | undefined> {
    if (leavesHalfTtl(first, body.ttlSeconds * 1000, this.marginMs)) return first;
    try {
      return await retrying(this.retry, signal, async () => {
        const sentAt = monotonicNow();
        return { sentAt, expiresInMs: await keepTermAlive(this.http, body, signal) };
      });
    } catch (err) {
      if (isLoss(err)) return undefined;
      // Best effort: the term's lease expires on its own if this fails.
      this.http
        .call('DELETE', termPath(body.election, body.token), {
          headers: secretHeader(body.secret),
        })
        .catch(() => undefined);
      throw err;
    }
  }
}
