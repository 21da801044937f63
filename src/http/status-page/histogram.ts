import type { Histogram } from 'prom-client';

/**
 * Cumulative bucket counts of one histogram, summed over the series a filter selects:
 * `cumulative[i]` counts observations `<= bounds[i]`; `count` includes the +Inf bucket.
 */
export interface BucketCounts {
  bounds: readonly number[];
  cumulative: number[];
  count: number;
}

/** Sums the buckets of `histogram` over every series whose labels pass `keep`. */
export async function bucketCounts(
  histogram: Histogram,
  bounds: readonly number[],
  keep: (labels: Record<string, string | number | undefined>) => boolean = () => true,
): Promise<BucketCounts> {
  const cumulative = bounds.map(() => 0);
  let count = 0;
  const { values } = await histogram.get();
  for (const v of values) {
    if (!v.metricName?.endsWith('_bucket') || !keep(v.labels)) continue;
    const le = v.labels.le;
    if (le === '+Inf') {
      count += v.value;
      continue;
    }
    const i = bounds.indexOf(Number(le));
    if (i >= 0) cumulative[i] = (cumulative[i] ?? 0) + v.value;
  }
  return { bounds, cumulative, count };
}

/** The observations in `now` that are not in `before` (counters only grow within a process). */
export function bucketDelta(now: BucketCounts, before: BucketCounts): BucketCounts {
  return {
    bounds: now.bounds,
    cumulative: now.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0)),
    count: now.count - before.count,
  };
}

/**
 * The q-quantile estimated the way PromQL's `histogram_quantile` does: find the bucket holding
 * rank q·count and interpolate linearly inside it (the lowest bucket starts at 0); a rank in the
 * +Inf bucket answers the highest finite bound. `null` when there are no observations.
 */
export function quantile(q: number, h: BucketCounts): number | null {
  if (h.count <= 0) return null;
  const rank = q * h.count;
  for (let i = 0; i < h.bounds.length; i++) {
    const upper = h.bounds[i] ?? 0;
    const cum = h.cumulative[i] ?? 0;
    if (cum < rank) continue;
    const lower = i === 0 ? 0 : (h.bounds[i - 1] ?? 0);
    const below = i === 0 ? 0 : (h.cumulative[i - 1] ?? 0);
    const inBucket = cum - below;
    if (inBucket <= 0) return upper;
    return lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return h.bounds[h.bounds.length - 1] ?? null;
}

/** The bucket `[lower, upper]` that holds `value` (upper is Infinity past the last bound). */
export function bucketOf(value: number, bounds: readonly number[]): [number, number] {
  let lower = 0;
  for (const upper of bounds) {
    if (value <= upper) return [lower, upper];
    lower = upper;
  }
  return [lower, Infinity];
}
