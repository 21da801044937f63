/**
 * Client of the fencing API: writes to fenced records in etcd that check the grant's token, reads
 * of them, and stale-token reports from resources that fence on their own.
 */
import { retrying, retryPolicy, type RetryOptions, type RetryPolicy } from './backoff.js';
import { isSlotlockError, SlotlockError } from './errors.js';
import { Http, secretHeader, segment, type HttpOptions } from './http.js';

/** A write to record `record` of `slot`, made by the holder of grant `token`. */
export interface FencedWriteOptions {
  slot: string;
  record: string;
  /** The grant's fencing token (decimal string). */
  token: string;
  /** The grant's holder secret: proves the caller holds `token` (the token alone is public). */
  secret: string;
  /** At most 64 KiB of UTF-8; serialize structured data yourself. */
  value: string;
  signal?: AbortSignal;
}

/** The answer to an applied fenced write. */
export interface FencedWriteResult {
  applied: true;
  token: string;
  /** The record's etcd mod revision after the write. */
  revision: string;
}

/** A fenced record as read back. */
export interface FencedValue {
  slot: string;
  record: string;
  value: string;
  /** The token that last wrote the record. */
  token: string;
  /** The record's etcd mod revision. */
  revision: string;
}

/** What a resource outside etcd reports when it rejected a stale token. */
export interface StaleReportOptions {
  slot: string;
  /** The token the rejected write carried. */
  token: string;
  /** The highest token the resource had already accepted. */
  highestSeen: string;
  /** A short label of the resource, e.g. "orders-db" (at most 64 of `[A-Za-z0-9._:/-]`). */
  resource: string;
  signal?: AbortSignal;
}

/**
 * A fenced write refused because a higher token got there first (code `stale_token`, status 409).
 * `winningToken` is the token that won; `currentHolderToken` the slot's current holder, if any.
 */
export class StaleTokenError extends SlotlockError {
  readonly winningToken: string | undefined;
  readonly currentHolderToken: string | undefined;

  constructor(from: SlotlockError) {
    super({
      code: from.code,
      status: from.status,
      detail: from.detail,
      retryAfterS: from.retryAfterS,
      problem: from.problem,
      cause: from,
    });
    const p: Record<string, unknown> = from.problem ?? {};
    this.winningToken = typeof p.winningToken === 'string' ? p.winningToken : undefined;
    this.currentHolderToken =
      typeof p.currentHolderToken === 'string' ? p.currentHolderToken : undefined;
  }
}

/** Options of {@link FencingClient}: where the service is, and retries of reads and reports. */
export interface FencingClientOptions extends HttpOptions {
  retry?: RetryOptions;
}

/**
 * Client of fenced records and stale reports. A fenced write is never retried by the client: a
 * retry of a write that was applied could be refused as stale once a newer holder has written,
 * hiding that it succeeded. Reads and reports retry transient failures.
 */
export class FencingClient {
  private readonly http: Http;
  private readonly retry: RetryPolicy;

  constructor(opts: FencingClientOptions = {}) {
    this.http = new Http(opts);
    this.retry = retryPolicy(opts.retry);
  }

  /**
   * Writes `value` if the caller's grant still exists and `token` is not lower than the token
   * that last wrote the record. Throws {@link StaleTokenError} when a higher token won, and a
   * {@link SlotlockError} `grant_gone`, `not_holder`, `invalid_input` or `payload_too_large`.
   */
  async fencedWrite(o: FencedWriteOptions): Promise<FencedWriteResult> {
    try {
      const res = await this.http.call<FencedWriteResult>('PUT', recordPath(o.slot, o.record), {
        body: { token: o.token, value: o.value },
        headers: secretHeader(o.secret),
        signal: o.signal,
      });
      return { applied: true, token: res.body.token, revision: res.body.revision };
    } catch (err) {
      if (isSlotlockError(err, 'stale_token')) throw new StaleTokenError(err);
      throw err;
    }
  }

  /** Reads a fenced record; resolves `null` if it was never written. */
  async readFenced(o: {
    slot: string;
    record: string;
    signal?: AbortSignal;
  }): Promise<FencedValue | null> {
    try {
      const res = await retrying(this.retry, o.signal, () =>
        this.http.call<FencedValue>('GET', recordPath(o.slot, o.record), { signal: o.signal }),
      );
      return res.body;
    } catch (err) {
      if (isSlotlockError(err, 'not_found')) return null;
      throw err;
    }
  }

  /** Tells slotlock that a resource rejected a stale token (counted and logged by the service). */
  async reportStale(o: StaleReportOptions): Promise<void> {
    await retrying(this.retry, o.signal, () =>
      this.http.call('POST', `/v1/slots/${segment(o.slot)}/stale-reports`, {
        body: { token: o.token, highestSeen: o.highestSeen, resource: o.resource },
        signal: o.signal,
      }),
    );
  }
}

function recordPath(slot: string, record: string): string {
  return `/v1/slots/${segment(slot)}/fenced/${segment(record)}`;
}
