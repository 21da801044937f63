import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Lock acquire buckets (seconds): the 100 ms SLO threshold is a boundary. */
export const acquireBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
/** Election buckets (seconds): the 5 s SLO threshold is a boundary. */
export const electionBuckets = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60];
/** etcd request buckets (seconds): the 50 ms commit-latency SLO threshold is a boundary. */
export const etcdBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
/** Hold-duration buckets (seconds). */
export const holdBuckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Every slotlock metric, registered on one registry. Labels are bounded: never a slot, holder,
 * lease or request id; `election` is bounded by ELECTIONS_MAX (overflow is reported as "_other").
 */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    acquireDuration: new Histogram({
      name: 'slotlock_lock_acquire_duration_seconds',
      help: 'Time from receiving an acquire to answering it, by mode (try|wait) and outcome.',
      labelNames: ['mode', 'outcome'] as const,
      buckets: acquireBuckets,
      registers,
    }),
    acquires: new Counter({
      name: 'slotlock_lock_acquire_total',
      help: 'Acquire outcomes: immediate, after_wait, busy, timeout, cancelled, conflict, error.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    waiting: new Gauge({
      name: 'slotlock_lock_waiting',
      help: 'Acquire requests waiting in this replica.',
      registers,
    }),
    holdDuration: new Histogram({
      name: 'slotlock_lock_hold_duration_seconds',
      help: 'Time a grant was held, observed by the replica that granted it, by how it ended.',
      labelNames: ['reason'] as const,
      buckets: holdBuckets,
      registers,
    }),
    grantEnds: new Counter({
      name: 'slotlock_lock_grant_ends_total',
      help: 'Grants that ended, by reason (released|expired), counted by the granting replica.',
      labelNames: ['reason'] as const,
      registers,
    }),
    keepalives: new Counter({
      name: 'slotlock_lease_keepalive_total',
      help: 'Holder keepalives by outcome (ok|gone|error).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    electionDuration: new Histogram({
      name: 'slotlock_election_duration_seconds',
      help: 'Time from the old leader key disappearing to the next leader being established.',
      labelNames: ['election', 'reason'] as const,
      buckets: electionBuckets,
      registers,
    }),
    leaderChanges: new Counter({
      name: 'slotlock_election_leader_changes_total',
      help: 'Leader changes observed per election.',
      labelNames: ['election'] as const,
      registers,
    }),
    leaderPresent: new Gauge({
      name: 'slotlock_election_leader_present',
      help: '1 when the election has a leader, 0 when it has none.',
      labelNames: ['election'] as const,
      registers,
    }),
    etcdDuration: new Histogram({
      name: 'slotlock_etcd_request_duration_seconds',
      help: 'etcd request latency by operation kind (txn, range, lease_grant, ...).',
      labelNames: ['op'] as const,
      buckets: etcdBuckets,
      registers,
    }),
    etcdRequests: new Counter({
      name: 'slotlock_etcd_requests_total',
      help: 'etcd requests by operation kind and outcome (ok|error|unavailable).',
      labelNames: ['op', 'outcome'] as const,
      registers,
    }),
    etcdTxnBatchSize: new Histogram({
      name: 'slotlock_etcd_txn_batch_size',
      help: 'Transactions carried by each group-committed etcd txn call (1 = sent on its own).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    staleTokens: new Counter({
      name: 'slotlock_fencing_stale_tokens_total',
      help: 'Stale fencing tokens rejected, by where (check|store|report).',
      labelNames: ['source'] as const,
      registers,
    }),
    fencedWrites: new Counter({
      name: 'slotlock_fencing_writes_total',
      help: 'Fenced writes by outcome (applied|rejected).',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Outcomes of an acquire, as labelled on the acquire counter and duration histogram. */
export const acquireOutcomes = [
  'immediate',
  'after_wait',
  'busy',
  'timeout',
  'cancelled',
  'conflict',
  'error',
  'replayed',
] as const;

/** Kinds of etcd call, as labelled on the etcd request metrics. */
export const etcdOps = [
  'txn',
  'range',
  'lease_grant',
  'lease_revoke',
  'lease_keepalive',
  'lease_ttl',
] as const;

/**
 * Sets every known label combination to 0 (counters) or creates it empty (histograms), so series
 * exist from the first scrape: Prometheus cannot rate a series born between two scrapes, and would
 * lose its first observations.
 */
export function initMetricSeries(m: Metrics): void {
  for (const outcome of acquireOutcomes) {
    m.acquires.inc({ outcome }, 0);
    for (const mode of ['try', 'wait']) m.acquireDuration.zero({ mode, outcome });
  }
  for (const op of etcdOps) {
    for (const outcome of ['ok', 'error', 'unavailable']) m.etcdRequests.inc({ op, outcome }, 0);
    m.etcdDuration.zero({ op });
  }
  for (const reason of ['released', 'expired']) {
    m.grantEnds.inc({ reason }, 0);
    m.holdDuration.zero({ reason });
  }
  for (const outcome of ['ok', 'gone', 'error']) m.keepalives.inc({ outcome }, 0);
  for (const source of ['check', 'store', 'report']) m.staleTokens.inc({ source }, 0);
  for (const outcome of ['applied', 'rejected']) m.fencedWrites.inc({ outcome }, 0);
}
