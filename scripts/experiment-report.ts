/**
 * The fencing experiment's numbers: per-run summary (the SLIs the design notes name), the verdict
 * (the unfenced run must show the anomaly, the fenced run must not), and the printed table.
 */
import type { RunResult } from './experiment-fencing-run.js';

/** One row of the table. */
export interface RunSummary {
  run: 'without fencing' | 'with fencing';
  workers: number;
  pauses: number;
  writesApplied: number;
  /** `stale_leader_write.count`: applied writes with a token below one already applied. */
  staleLeaderWrites: number;
  lostUpdates: number;
  /** Late writes of paused workers that the resource refused. */
  lateWritesRejected: number;
  acquires: number;
  /** `lock.acquire_time_ms.p95` over every acquire the workers made (includes queueing). */
  acquireP95Ms: number | null;
  /** The same over acquires that did not wait in the queue. */
  acquireP95UncontendedMs: number | null;
  /** Longest SIGSTOP-to-next-grant time: lease expiry plus handover. */
  failoverMaxMs: number | null;
  /** Shortest pause (SIGSTOP to SIGCONT); always above the TTL by construction. */
  pauseMinMs: number | null;
}

/** What the JSON result file holds. */
export interface ExperimentReport {
  experiment: 'fencing';
  at: string;
  ttlS: number;
  runs: RunSummary[];
  sli: {
    'stale_leader_write.count': { withoutFencing: number; withFencing: number };
    'lock.acquire_time_ms.p95': number | null;
    'consensus.leader_election_ms': null;
  };
  rejectionReasons: string[];
  ok: boolean;
  problems: string[];
  details: RunResult[];
}

/** Nearest-rank percentile of `values`, or null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return Math.round((sorted[rank - 1] ?? 0) * 10) / 10;
}

export function summarize(r: RunResult): RunSummary {
  const max = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
  const min = (xs: number[]) => (xs.length === 0 ? null : Math.min(...xs));
  return {
    run: r.mode === 'fenced' ? 'with fencing' : 'without fencing',
    workers: r.workers,
    pauses: r.pauses.length,
    writesApplied: r.history.length,
    staleLeaderWrites: r.staleWrites,
    lostUpdates: r.lostUpdates,
    lateWritesRejected: r.pauses.filter(p => p.outcome === 'rejected').length,
    acquires: r.acquires.length,
    acquireP95Ms: percentile(
      r.acquires.map(a => a.ms),
      95,
    ),
    acquireP95UncontendedMs: percentile(
      r.acquires.filter(a => !a.waited).map(a => a.ms),
      95,
    ),
    failoverMaxMs: max(r.pauses.map(p => p.failoverMs)),
    pauseMinMs: min(r.pauses.map(p => p.pausedMs)),
  };
}

/** Builds the report and its verdict from the two runs. */
export function report(
  unfenced: RunResult,
  fenced: RunResult,
  o: { ttlS: number; pauses: number },
): ExperimentReport {
  const runs = [summarize(unfenced), summarize(fenced)];
  const [u, f] = runs as [RunSummary, RunSummary];
  const problems: string[] = [];
  if (u.staleLeaderWrites < 1) {
    problems.push('without fencing no stale write was applied: the anomaly was not reproduced');
  }
  if (f.staleLeaderWrites > 0) {
    problems.push(`with fencing ${f.staleLeaderWrites} stale write(s) were applied`);
  }
  if (f.lostUpdates !== 0) problems.push(`with fencing ${f.lostUpdates} update(s) were lost`);
  for (const s of runs) {
    if (s.pauses < o.pauses) problems.push(`${s.run}: ${s.pauses} of ${o.pauses} pauses ran`);
    if (s.pauseMinMs !== null && s.pauseMinMs <= o.ttlS * 1000) {
      problems.push(`${s.run}: a pause of ${s.pauseMinMs} ms did not exceed the TTL`);
    }
  }
  if (f.lateWritesRejected !== f.pauses) {
    problems.push('with fencing not every late write was rejected');
  }
  const acquireMs = [...unfenced.acquires, ...fenced.acquires].map(a => a.ms);
  return {
    experiment: 'fencing',
    at: new Date().toISOString(),
    ttlS: o.ttlS,
    runs,
    sli: {
      'stale_leader_write.count': {
        withoutFencing: u.staleLeaderWrites,
        withFencing: f.staleLeaderWrites,
      },
      'lock.acquire_time_ms.p95': percentile(acquireMs, 95),
      'consensus.leader_election_ms': null,
    },
    rejectionReasons: fenced.pauses.flatMap(p =>
      p.outcome === 'rejected' ? [`${p.code ?? '?'}: ${p.detail ?? ''}`] : [],
    ),
    ok: problems.length === 0,
    problems,
    details: [unfenced, fenced],
  };
}

/** The table printed at the end of a run (Markdown, so it can be pasted into docs). */
export function formatTable(r: ExperimentReport): string {
  const header = [
    'run',
    'workers',
    'pauses',
    'writes applied',
    'stale_leader_write.count',
    'lost updates',
    'late writes rejected',
    'lock.acquire_time_ms.p95 (all / uncontended)',
    'failover after pause, ms (max)',
  ];
  const ms = (v: number | null) => (v === null ? 'n/a' : String(Math.round(v)));
  const rows = r.runs.map(s => [
    s.run,
    String(s.workers),
    String(s.pauses),
    String(s.writesApplied),
    String(s.staleLeaderWrites),
    String(s.lostUpdates),
    String(s.lateWritesRejected),
    `${ms(s.acquireP95Ms)} / ${ms(s.acquireP95UncontendedMs)}`,
    ms(s.failoverMaxMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(row => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(header),
    line(widths.map(w => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `consensus.leader_election_ms: not measured by this experiment (TTL ${r.ttlS} s lock failover above)`,
    ...r.rejectionReasons.map(reason => `rejected late write -> ${reason}`),
    r.ok ? 'verdict: OK' : `verdict: FAILED\n  ${r.problems.join('\n  ')}`,
  ].join('\n');
}
