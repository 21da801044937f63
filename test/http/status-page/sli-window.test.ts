/**
 * The status page's "recent" window never claims more than it covers: it starts at the oldest
 * snapshot inside the window, and reaches further back only when no snapshot lies inside it
 * (then the page says so). Time passing is the subject here, so the test waits on the clock.
 */
import { describe, expect, it } from 'vitest';
import { SliTracker } from '../../../src/http/status-page/slis.js';
import { createMetrics } from '../../../src/metrics.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('SliTracker recent window', () => {
  it('stays within maxWindowS once a snapshot lies inside the window', async () => {
    const tracker = new SliTracker(createMetrics({ defaultMetrics: false }), 1);
    const first = await tracker.report();
    expect(first.windowS).toBeLessThanOrEqual(1);
    await sleep(1200);
    // No snapshot inside the last second: the window reaches back to the last one, honestly.
    const afterIdle = await tracker.report();
    expect(afterIdle.windowS).toBeGreaterThan(1);
    await sleep(600);
    // The snapshot taken 0.6 s ago is inside the window: the window starts there, not before.
    const next = await tracker.report();
    expect(next.windowS).toBeLessThanOrEqual(next.maxWindowS);
    expect(next.windowS).toBeGreaterThanOrEqual(0.5);
  });
});
