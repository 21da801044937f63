/** Called right before and right after the measured loop (e.g. to scrape the service's metrics). */
export interface Probe {
  start(): Promise<void>;
  end(): Promise<void>;
}

/** A closed-loop load generator: N workers each run one operation after another, bounded in time and count. */
import { summarize, type Summary } from './stats.js';

export interface LoopOptions {
  concurrency: number;
  /** Workers start no new operation after this long. */
  durationMs: number;
  /** Workers start no new operation once this many were started in total. */
  maxOps: number;
  /** Pause after a failed operation, so a failing target is not hammered (default 10 ms). */
  errorPauseMs?: number;
}

export interface LoopResult {
  concurrency: number;
  ops: number;
  errors: number;
  elapsedMs: number;
  opsPerS: number;
  /** Milliseconds: the operation's round trip, or the latency the operation reported itself. */
  latency: Summary;
  /** Successful operations per worker (for fairness). */
  perWorker: number[];
  firstError: string | undefined;
}

/**
 * Runs `op(worker)` in `concurrency` parallel loops. `op` may return its own latency in ms (e.g. the
 * wait part of a cycle); otherwise the whole call is timed. Failures are counted, not thrown.
 */
export async function closedLoop(
  o: LoopOptions,
  op: (worker: number) => Promise<number | undefined>,
  probe?: Probe,
): Promise<LoopResult> {
  await probe?.start();
  const latencies: number[] = [];
  const perWorker = new Array<number>(o.concurrency).fill(0);
  let started = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  const pause = o.errorPauseMs ?? 10;

  const worker = async (w: number): Promise<void> => {
    while (performance.now() < deadline && started < o.maxOps) {
      started++;
      const begin = performance.now();
      try {
        const reported = await op(w);
        latencies.push(reported ?? performance.now() - begin);
        perWorker[w] = (perWorker[w] ?? 0) + 1;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        await new Promise(resolve => setTimeout(resolve, pause));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  const elapsedMs = performance.now() - t0;
  await probe?.end();
  return {
    concurrency: o.concurrency,
    ops: latencies.length,
    errors,
    elapsedMs,
    opsPerS: latencies.length / (elapsedMs / 1000),
    latency: summarize(latencies),
    perWorker,
    firstError,
  };
}

/** A short warm-up followed by the measured loop (the warm-up's numbers are dropped). */
export async function warmedLoop(
  o: LoopOptions & { warmupMs: number },
  op: (worker: number) => Promise<number | undefined>,
  probe?: Probe,
): Promise<LoopResult> {
  await closedLoop({ ...o, durationMs: o.warmupMs, maxOps: o.maxOps }, op);
  return closedLoop(o, op, probe);
}

/** A random pause of `minMs` to `maxMs`. */
export function jitterSleep(minMs: number, maxMs: number): Promise<void> {
  const ms = minMs + Math.random() * (maxMs - minMs);
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** How long one measured phase runs (the same for every scenario of a run). */
export interface Phase {
  durationMs: number;
  warmupMs: number;
  maxOps: number;
}

/** `n` items 0..n-1 (for per-worker setup). */
export function times<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}
