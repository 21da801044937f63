import { describe, expect, it } from 'vitest';
import {
  MonotonicDeadline,
  defaultMarginMs,
  leavesHalfTtl,
  localDeadline,
} from '../../packages/client/src/monotonic-deadline.js';

describe('monotonic deadline', () => {
  it('uses the larger of 250 ms and 10 % of the TTL as the margin', () => {
    expect(defaultMarginMs(2_000)).toBe(250);
    expect(defaultMarginMs(15_000)).toBe(1_500);
  });

  it('counts from the send time of the confirming request, minus the margin', () => {
    expect(localDeadline(1_000, 15_000, 1_500)).toBe(14_500);
    const d = new MonotonicDeadline(15_000, { sentAt: 1_000, expiresInMs: 14_990 });
    expect(d.deadline).toBe(1_000 + 14_990 - 1_500);
    expect(d.remainingMs(10_000)).toBe(4_490);
    expect(d.passed(14_489)).toBe(false);
    expect(d.passed(14_490)).toBe(true);
    expect(d.remainingMs(20_000)).toBe(0);
  });

  it('only moves forward, so a late answer to an older request cannot shorten it', () => {
    const d = new MonotonicDeadline(2_000, { sentAt: 5_000, expiresInMs: 2_000 }, 250);
    expect(d.extend(4_000, 2_000)).toBe(false);
    expect(d.deadline).toBe(6_750);
    expect(d.extend(5_600, 1_990)).toBe(true);
    expect(d.deadline).toBe(7_340);
  });

  it('flags a confirmation anchored at an old send time (after a long-poll)', () => {
    expect(leavesHalfTtl({ sentAt: 0, expiresInMs: 15_000 }, 15_000, 1_500, 100)).toBe(true);
    expect(leavesHalfTtl({ sentAt: 0, expiresInMs: 15_000 }, 15_000, 1_500, 20_000)).toBe(false);
  });
});
