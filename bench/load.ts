/**
 * A closed-loop load generator: N workers each run one operation after another, bounded in time
 * and count. Several subjects can be measured in interleaved rounds, so that a comparison between
 * them is not skewed by the background load of a shared machine drifting between their runs.
 */
import { summarize, type Summary } from './stats.js';

/** Called right before and right after each measured loop (e.g. to scrape the service's metrics). */
export interface Probe {
  start(): Promise<void>;
  end(): Promise<void>;
}

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
  /** Successful operations. */
  ops: number;
  errors: number;
  /**
   * Measured time, summed over rounds: from the start of a loop until its last worker finished
   * (workers stop starting operations at the deadline and finish the one in flight). In a closed
   * loop ops/elapsed is the throughput: the start-up and the tail balance out.
   */
  elapsedMs: number;
  opsPerS: number;
  /** Milliseconds: the operation's round trip, or the latency the operation reported itself. */
  latency: Summary;
  /** Successful operations per worker (for fairness). */
  perWorker: number[];
  firstError: string | undefined;
}

/** Collects the samples of one subject over one or more rounds. */
export class LoopAccumulator {
  readonly latencies: number[] = [];
  readonly perWorker: number[];
  errors = 0;
  elapsedMs = 0;
  firstError: string | undefined;

  constructor(readonly concurrency: number) {
    this.perWorker = new Array<number>(concurrency).fill(0);
  }

  result(): LoopResult {
    return {
      concurrency: this.concurrency,
      ops: this.latencies.length,
      errors: this.errors,
      elapsedMs: this.elapsedMs,
      opsPerS: this.elapsedMs > 0 ? this.latencies.length / (this.elapsedMs / 1000) : Number.NaN,
      latency: summarize(this.latencies),
      perWorker: [...this.perWorker],
      firstError: this.firstError,
    };
  }
}

/** One operation of a subject; may return its own latency in ms (e.g. the wait part of a cycle). */
export type Operation = (worker: number) => Promise<number | undefined>;

/**
 * Runs `op(worker)` in `concurrency` parallel loops for one window, adding to `acc` (a fresh one by
 * default) and returning its totals so far. Failures are counted, not thrown.
 */
export async function closedLoop(
  o: LoopOptions,
  op: Operation,
  probe?: Probe,
  acc: LoopAccumulator = new LoopAccumulator(o.concurrency),
): Promise<LoopResult> {
  await probe?.start();
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  const pause = o.errorPauseMs ?? 10;

  const worker = async (w: number): Promise<void> => {
    while (performance.now() < deadline && started < o.maxOps) {
      started++;
      const begin = performance.now();
      try {
        const reported = await op(w);
        acc.latencies.push(reported ?? performance.now() - begin);
        acc.perWorker[w] = (acc.perWorker[w] ?? 0) + 1;
      } catch (err) {
        acc.errors++;
        acc.firstError ??= err instanceof Error ? err.message : String(err);
        await new Promise(resolve => setTimeout(resolve, pause));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  acc.elapsedMs += performance.now() - t0;
  await probe?.end();
  return acc.result();
}

/** A short warm-up followed by the measured loop (the warm-up's numbers are dropped). */
export async function warmedLoop(
  o: LoopOptions & { warmupMs: number },
  op: Operation,
  probe?: Probe,
): Promise<LoopResult> {
  await closedLoop({ ...o, durationMs: o.warmupMs, maxOps: o.maxOps }, op);
  return closedLoop(o, op, probe);
}

/** How long one measured phase runs (the same for every scenario of a run). */
export interface Phase {
  durationMs: number;
  warmupMs: number;
  maxOps: number;
  /** Interleaved rounds the duration is split into (uncontended comparisons only). */
  rounds: number;
}

/** A subject ready to be measured: its operation and how to release what it set up. */
export interface Runner {
  op: Operation;
  close(): Promise<void>;
}

/** A subject of an interleaved comparison: how to set it up, and where its numbers go. */
export interface Contender {
  name: string;
  prepare: () => Promise<Runner>;
  probe: Probe | undefined;
}

/**
 * Prepares every contender and warms each up, then measures them in `phase.rounds` rounds of
 * duration/rounds each, alternating the order every round, and closes them. A contender that
 * cannot be prepared is reported in `failed` and skipped.
 */
export async function interleaved(
  contenders: readonly Contender[],
  concurrency: number,
  phase: Phase,
): Promise<{ results: Map<string, LoopResult>; failed: Map<string, string> }> {
  const ready: { c: Contender; runner: Runner; acc: LoopAccumulator }[] = [];
  const failed = new Map<string, string>();
  try {
    for (const c of contenders) {
      try {
        const runner = await c.prepare();
        ready.push({ c, runner, acc: new LoopAccumulator(concurrency) });
        await closedLoop(
          { concurrency, durationMs: phase.warmupMs, maxOps: phase.maxOps },
          runner.op,
        );
      } catch (err) {
        failed.set(c.name, err instanceof Error ? err.message : String(err));
      }
    }
    const rounds = Math.max(1, phase.rounds);
    const round = {
      concurrency,
      durationMs: phase.durationMs / rounds,
      maxOps: Math.ceil(phase.maxOps / rounds),
    };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ready : [...ready].reverse();
      for (const { c, runner, acc } of order) await closedLoop(round, runner.op, c.probe, acc);
    }
  } finally {
    for (const { runner } of ready) await runner.close().catch(() => undefined);
  }
  return { results: new Map(ready.map(({ c, acc }) => [c.name, acc.result()])), failed };
}

/** A random pause of `minMs` to `maxMs`. */
export function jitterSleep(minMs: number, maxMs: number): Promise<void> {
  const ms = minMs + Math.random() * (maxMs - minMs);
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** `n` items 0..n-1 (for per-worker setup). */
export function times<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}
