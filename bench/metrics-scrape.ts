/** Reads the service's Prometheus /metrics: etcd request counts, CPU seconds, RSS, waiters. */
import { etcdOps } from '../src/metrics.js';

/** One scrape: series (`name{labels}`) to value, and when it was taken (performance.now()). */
export interface Scrape {
  at: number;
  series: Map<string, number>;
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const text = await res.text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { at: performance.now(), series };
}

/** Sum of every series of metric `name` whose labels include all of `labels`. */
export function total(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of s.series) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const labelText = brace < 0 ? '' : key.slice(brace);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** etcd requests the service made between two scrapes, in total and by operation kind. */
export function etcdRequestDelta(
  before: Scrape,
  after: Scrape,
): { total: number; byOp: Record<string, number> } {
  const byOp: Record<string, number> = {};
  for (const op of etcdOps) {
    const d =
      total(after, 'slotlock_etcd_requests_total', { op }) -
      total(before, 'slotlock_etcd_requests_total', { op });
    if (d !== 0) byOp[op] = d;
  }
  const all =
    total(after, 'slotlock_etcd_requests_total') - total(before, 'slotlock_etcd_requests_total');
  return { total: all, byOp };
}

/** Service CPU use between two scrapes: cores busy on average, and CPU seconds spent. */
export function cpuDelta(before: Scrape, after: Scrape): { cores: number; seconds: number } {
  const seconds =
    total(after, 'process_cpu_seconds_total') - total(before, 'process_cpu_seconds_total');
  const wall = (after.at - before.at) / 1000;
  return { cores: wall > 0 ? seconds / wall : Number.NaN, seconds };
}

/** V8 heap in use (live objects and garbage not yet collected) in MB at a scrape. */
export function heapUsedMb(s: Scrape): number {
  return total(s, 'nodejs_heap_size_used_bytes') / 1024 / 1024;
}

/** Resident memory in MB at a scrape. */
export function rssMb(s: Scrape): number {
  return total(s, 'process_resident_memory_bytes') / 1024 / 1024;
}
