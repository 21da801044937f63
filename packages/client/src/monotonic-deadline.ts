/**
 * The holder-side safety rule: a holder stops treating itself as holder at TTL minus a safety
 * margin, measured on a monotonic clock from the moment the confirming request was SENT.
 *
 * Why the send time: the server renews the lease at some instant after the request left us, and
 * reports `expiresInMs` measured from an instant after that, so `sentAt + expiresInMs` can only
 * be earlier than the real expiry on the server. The margin covers clock-rate drift between
 * the two machines and timer lateness here. Wall-clock time (Date.now) is never used: it jumps.
 */

/** Milliseconds on a monotonic clock (`performance.now()`); comparable only within this process. */
export function monotonicNow(): number {
  return performance.now();
}

/** The default safety margin for a lease of `ttlMs`: the larger of 250 ms and 10 % of the TTL. */
export function defaultMarginMs(ttlMs: number): number {
  return Math.max(250, Math.ceil(ttlMs * 0.1));
}

/** The local deadline for a confirmation sent at `sentAt` that reported `expiresInMs` left. */
export function localDeadline(sentAt: number, expiresInMs: number, marginMs: number): number {
  return sentAt + expiresInMs - marginMs;
}

/**
 * A deadline that only moves forward as confirmations arrive. Each confirmation gives a lower
 * bound of the server-side expiry, so keeping the latest of them stays safe even when
 * confirmations arrive out of order.
 */
export class MonotonicDeadline {
  readonly marginMs: number;
  private at: number;

  /**
   * @param ttlMs the lease TTL, used for the default margin
   * @param first the first confirmation: when its request was sent and the time it reported left
   * @param marginMs overrides {@link defaultMarginMs}
   */
  constructor(ttlMs: number, first: { sentAt: number; expiresInMs: number }, marginMs?: number) {
    this.marginMs = marginMs ?? defaultMarginMs(ttlMs);
    this.at = localDeadline(first.sentAt, first.expiresInMs, this.marginMs);
  }

  /** The deadline as a {@link monotonicNow} timestamp. */
  get deadline(): number {
    return this.at;
  }

  /** Records a confirmation; returns true if it moved the deadline later. */
  extend(sentAt: number, expiresInMs: number): boolean {
    const next = localDeadline(sentAt, expiresInMs, this.marginMs);
    if (next <= this.at) return false;
    this.at = next;
    return true;
  }

  /** Milliseconds until the deadline (never negative). */
  remainingMs(now: number = monotonicNow()): number {
    return Math.max(0, this.at - now);
  }

  /** True once the deadline has passed. */
  passed(now: number = monotonicNow()): boolean {
    return now >= this.at;
  }
}

/**
 * True when a confirmation still leaves at least half the TTL before its local deadline. A
 * grant or term won after a long-poll is anchored at a request sent long ago and fails this;
 * the client then renews once before handing it over.
 */
export function leavesHalfTtl(
  first: { sentAt: number; expiresInMs: number },
  ttlMs: number,
  marginMs: number = defaultMarginMs(ttlMs),
  now: number = monotonicNow(),
): boolean {
  return localDeadline(first.sentAt, first.expiresInMs, marginMs) - now >= ttlMs / 2;
}
