/** Percentiles and small summaries for the benchmark (nearest-rank, in the unit of the input). */

/** Count, mean and the percentiles the report prints. All NaN when there are no values. */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (`p` in 0..100); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] ?? Number.NaN;
}

/** Summarises `values` (it sorts a copy). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    n: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** How evenly grants were spread over clients: max/min per client (Infinity if one got none). */
export interface Fairness {
  min: number;
  max: number;
  ratio: number;
}

export function fairness(perClient: readonly number[]): Fairness {
  if (perClient.length === 0) return { min: 0, max: 0, ratio: Number.NaN };
  const min = Math.min(...perClient);
  const max = Math.max(...perClient);
  return { min, max, ratio: min === 0 ? Number.POSITIVE_INFINITY : max / min };
}

/** Formats a number for the table: at most 3 significant digits below 100, integers above. */
export function fmt(v: number | undefined, digits = 3): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return '∞';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}
