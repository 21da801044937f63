import { acquireBuckets, electionBuckets, etcdBuckets, type Metrics } from '../../metrics.js';
import { bucketCounts, bucketDelta, quantile, type BucketCounts } from './histogram.js';

/** Outcomes that count as contended, as in the `slotlock:lock_contention:ratio_rate5m` rule. */
const CONTENDED = new Set(['after_wait', 'busy', 'timeout']);
/** Routes the availability SLI leaves out, as the `slotlock:http_requests_errors:*` rules do. */
const NOT_TRAFFIC = new Set(['/livez', '/readyz', '/metrics']);

/** The counters behind the SLIs at one moment (cumulative since the process started). */
interface Raw {
  atMs: number;
  acquireTry: BucketCounts;
  election: BucketCounts;
  etcdTxn: BucketCounts;
  acquires: number;
  contended: number;
  httpRequests: number;
  httpFailed: number;
  staleTokens: number;
}

export type SliId =
  'acquire_p95' | 'contention' | 'election_p95' | 'etcd_txn_p95' | 'availability' | 'stale_tokens';

/** One SLI as the status page shows it. `target` null: tracked, no SLO. */
export interface Sli {
  id: SliId;
  /** The SLI's name in the design notes. */
  name: string;
  unit: 'seconds' | 'ratio' | 'count';
  comparator: '<=' | '>=' | '=' | null;
  target: number | null;
  /** Over the recent window (see `windowS`); null without events. */
  recent: number | null;
  /** Since this process started (the registry's own totals); null without events. */
  sinceStart: number | null;
  /** Events behind each value (acquires, elections, txns, requests, tokens). */
  events: { recent: number; sinceStart: number };
  /** `recent` against the SLO: `no_data` without events, `tracked` without an SLO. */
  status: SliStatus;
  /** `sinceStart` against the SLO. */
  statusSinceStart: SliStatus;
}

export type SliStatus = 'ok' | 'breach' | 'no_data' | 'tracked';

export interface SliReport {
  /**
   * Length of the recent window in seconds: up to `maxWindowS`, less right after start, and more
   * only when no report was read for longer than that (then it reaches back to the last one).
   */
  windowS: number;
  maxWindowS: number;
  slis: Sli[];
}

/**
 * SLIs computed from this replica's own prom-client registry. They approximate the Prometheus
 * recording rules for one replica only: "since start" is cumulative, and "recent" compares with
 * the oldest snapshot taken within the last `maxWindowS` seconds (snapshots are taken when the
 * report is asked for, at most one per second), so its window can be shorter; only after an idle
 * spell with no snapshot in the window does it reach back to the last one, and say so.
 */
export class SliTracker {
  private readonly snapshots: Raw[] = [];

  constructor(
    private readonly metrics: Metrics,
    readonly maxWindowS = 300,
  ) {
    // The first snapshot anchors the first window at (about) the time the router was built.
    void this.read().then(
      raw => {
        this.snapshots.unshift(raw);
      },
      () => undefined,
    );
  }

  /** Reads the registry, keeps a snapshot and reports every SLI. */
  async report(): Promise<SliReport> {
    const now = await this.read();
    const base = this.baseFor(now);
    this.keep(now);
    return {
      windowS: Math.round((now.atMs - base.atMs) / 100) / 10,
      maxWindowS: this.maxWindowS,
      slis: slis(diff(now, base), now),
    };
  }

  private baseFor(now: Raw): Raw {
    const from = now.atMs - this.maxWindowS * 1000;
    const inWindow = this.snapshots.find(s => s.atMs >= from);
    const older = this.snapshots.filter(s => s.atMs < from).at(-1);
    return inWindow ?? older ?? now;
  }

  private keep(now: Raw): void {
    const last = this.snapshots.at(-1);
    if (last === undefined || now.atMs - last.atMs >= 1000) this.snapshots.push(now);
    const from = now.atMs - this.maxWindowS * 1000;
    // Keep one snapshot at or before the window start so the window stays close to full.
    while (this.snapshots.length > 1 && (this.snapshots[1]?.atMs ?? Infinity) <= from) {
      this.snapshots.shift();
    }
  }

  private async read(): Promise<Raw> {
    const m = this.metrics;
    const atMs = performance.now();
    const [acquireTry, election, etcdTxn, acquires, requests, stale] = await Promise.all([
      bucketCounts(m.acquireDuration, acquireBuckets, l => l.mode === 'try'),
      bucketCounts(m.electionDuration, electionBuckets),
      bucketCounts(m.etcdDuration, etcdBuckets, l => l.op === 'txn'),
      m.acquires.get(),
      m.httpRequests.get(),
      m.staleTokens.get(),
    ]);
    let all = 0;
    let contended = 0;
    for (const v of acquires.values) {
      all += v.value;
      if (CONTENDED.has(String(v.labels.outcome))) contended += v.value;
    }
    let httpRequests = 0;
    let httpFailed = 0;
    for (const v of requests.values) {
      if (NOT_TRAFFIC.has(String(v.labels.route))) continue;
      httpRequests += v.value;
      if (v.labels.status_class === '5xx') httpFailed += v.value;
    }
    return {
      atMs,
      acquireTry,
      election,
      etcdTxn,
      acquires: all,
      contended,
      httpRequests,
      httpFailed,
      staleTokens: stale.values.reduce((sum, v) => sum + v.value, 0),
    };
  }
}

function diff(now: Raw, before: Raw): Raw {
  return {
    atMs: now.atMs - before.atMs,
    acquireTry: bucketDelta(now.acquireTry, before.acquireTry),
    election: bucketDelta(now.election, before.election),
    etcdTxn: bucketDelta(now.etcdTxn, before.etcdTxn),
    acquires: now.acquires - before.acquires,
    contended: now.contended - before.contended,
    httpRequests: now.httpRequests - before.httpRequests,
    httpFailed: now.httpFailed - before.httpFailed,
    staleTokens: now.staleTokens - before.staleTokens,
  };
}

type Spec = Pick<Sli, 'id' | 'name' | 'unit' | 'comparator' | 'target'> & {
  value: (r: Raw) => number | null;
  events: (r: Raw) => number;
};

const specs: Spec[] = [
  {
    id: 'acquire_p95',
    name: 'lock.acquire_time_ms.p95 (try mode)',
    unit: 'seconds',
    comparator: '<=',
    target: 0.1,
    value: r => quantile(0.95, r.acquireTry),
    events: r => r.acquireTry.count,
  },
  {
    id: 'contention',
    name: 'lock.contention_rate',
    unit: 'ratio',
    comparator: null,
    target: null,
    value: r => (r.acquires > 0 ? r.contended / r.acquires : null),
    events: r => r.acquires,
  },
  {
    id: 'election_p95',
    name: 'consensus.leader_election_ms.p95 (leaderless time)',
    unit: 'seconds',
    comparator: '<=',
    target: 5,
    value: r => quantile(0.95, r.election),
    events: r => r.election.count,
  },
  {
    id: 'etcd_txn_p95',
    name: 'consensus.commit_latency_ms.p95 (etcd txn)',
    unit: 'seconds',
    comparator: '<=',
    target: 0.05,
    value: r => quantile(0.95, r.etcdTxn),
    events: r => r.etcdTxn.count,
  },
  {
    id: 'availability',
    name: 'linearizable_op.availability (requests without a 5xx)',
    unit: 'ratio',
    comparator: '>=',
    target: 0.999,
    value: r => (r.httpRequests > 0 ? 1 - r.httpFailed / r.httpRequests : null),
    events: r => r.httpRequests,
  },
  {
    id: 'stale_tokens',
    name: 'stale_leader_write.count',
    unit: 'count',
    comparator: '=',
    target: 0,
    value: r => r.staleTokens,
    events: r => r.staleTokens,
  },
];

function slis(recent: Raw, total: Raw): Sli[] {
  return specs.map(({ value, events, ...spec }) => {
    const v = value(recent);
    return {
      ...spec,
      recent: v,
      sinceStart: value(total),
      events: { recent: events(recent), sinceStart: events(total) },
      status: judge(spec.comparator, spec.target, v),
      statusSinceStart: judge(spec.comparator, spec.target, value(total)),
    };
  });
}

function judge(comparator: Sli['comparator'], target: number | null, v: number | null): SliStatus {
  if (comparator === null || target === null) return 'tracked';
  if (v === null) return 'no_data';
  const ok = comparator === '<=' ? v <= target : comparator === '>=' ? v >= target : v === target;
  return ok ? 'ok' : 'breach';
}
