import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { buildInfo } from './build-info.js';

/** Lock acquire buckets (seconds): the 100 ms SLO threshold is a boundary. */
export const acquireBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
/**
 * Election buckets (seconds): the 5 s SLO threshold is a boundary; buckets below 100 ms resolve
 * clean handovers (a few ms), those up to 60 s a crashed leader's TTL.
 */
export const electionBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60,
];
/** HTTP request buckets (seconds); long polls and streams land in the top buckets. */
export const httpBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
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
      help: 'Acquire outcomes: immediate, after_wait, replayed, busy, timeout, cancelled, conflict, error.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    bundleAcquireDuration: new Histogram({
      name: 'slotlock_bundle_acquire_duration_seconds',
      help: 'Time from receiving a bundle acquire (several slots at once) to answering it, by mode (try|wait) and outcome.',
      labelNames: ['mode', 'outcome'] as const,
      buckets: acquireBuckets,
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
      help: "Leaderless time: from the old leader's last provable moment (its resign, or its lease expiry minus its TTL = its last keepalive) to the next leader's grant.",
      labelNames: ['election', 'reason'] as const,
      buckets: electionBuckets,
      registers,
    }),
    electionHandover: new Histogram({
      name: 'slotlock_election_handover_seconds',
      help: "Handover part of an election: from this replica seeing the old leader key deleted (or sending the resign) to the next leader's grant.",
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
    etcdRevision: new Gauge({
      name: 'slotlock_etcd_revision',
      help: 'The highest etcd revision this replica has seen; after a restore from a snapshot, advance etcd past the max of this over replicas (docs/reliability.md).',
      registers,
    }),
    etcdRevisionWentBack: new Counter({
      name: 'slotlock_etcd_revision_went_back_total',
      help: "Times etcd answered with a revision below one this replica had seen (a restore from a snapshot): no grant is made until etcd's revision is advanced past it.",
      registers,
    }),
    etcdNoSpace: new Gauge({
      name: 'slotlock_etcd_nospace_alarm',
      help: "1 while etcd's NOSPACE alarm is raised (etcd refuses every write), as this replica last saw it; 0 otherwise.",
      registers,
    }),
    grantsHeld: new Gauge({
      name: 'slotlock_lock_grants_held',
      help: "Grants made by this replica that have not ended yet (this replica's view; sum over replicas).",
      registers,
    }),
    httpRequests: new Counter({
      name: 'slotlock_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status class (2xx..5xx, aborted).',
      labelNames: ['route', 'method', 'status_class'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'slotlock_http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status class (long polls included).',
      labelNames: ['route', 'method', 'status_class'] as const,
      buckets: httpBuckets,
      registers,
    }),
    buildInfo: new Gauge({
      name: 'slotlock_build_info',
      help: 'Always 1; labelled with the version and the git commit this replica was built from.',
      labelNames: ['version', 'commit'] as const,
      registers,
    }),
    watchRestarts: new Counter({
      name: 'slotlock_etcd_watch_restarts_total',
      help: 'etcd watch calls re-created after a failure, by watch (slots|elections|observe) and reason (disconnected|no_leader).',
      labelNames: ['watch', 'reason'] as const,
      registers,
    }),
    watchesConnected: new Gauge({
      name: 'slotlock_etcd_watches_connected',
      help: 'etcd watch calls of this replica that etcd created and that are still open, by watch (slots|elections|observe).',
      labelNames: ['watch'] as const,
      registers,
    }),
    watchResyncs: new Counter({
      name: 'slotlock_etcd_watch_resyncs_total',
      help: 'etcd watches that could not resume (compacted past their revision) and re-read the current state, by watch (slots|elections|observe).',
      labelNames: ['watch'] as const,
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
    limitRefusals: new Counter({
      name: 'slotlock_limit_refusals_total',
      help: 'Requests refused by a rate limit or quota, by limit (see limitNames in src/metrics.ts).',
      labelNames: ['limit'] as const,
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
  'alarm',
] as const;

/** The service's etcd watches, as labelled on the watch metrics. */
export const watchNames = ['slots', 'elections', 'observe'] as const;

/** The restart/resync counters of one watch, for the domain's watches (see `WatchCounters`). */
export function watchCounters(m: Metrics, watch: (typeof watchNames)[number]) {
  return {
    restarted: (reason: string) => {
      m.watchRestarts.inc({ watch, reason });
    },
    resynced: () => {
      m.watchResyncs.inc({ watch });
    },
    connected: (up: boolean) => {
      if (up) m.watchesConnected.inc({ watch });
      else m.watchesConnected.dec({ watch });
    },
  };
}

/** The `limit` label values of `slotlock_limit_refusals_total`. */
export const limitNames = [
  'rate_principal',
  'rate_replica',
  'grants',
  'waiters',
  'sessions',
  'elections',
  'fenced_slot',
  'fenced_principal',
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
  for (const limit of limitNames) m.limitRefusals.inc({ limit }, 0);
  for (const watch of watchNames) {
    m.watchResyncs.inc({ watch }, 0);
    m.watchesConnected.set({ watch }, 0);
    for (const reason of ['disconnected', 'no_leader']) m.watchRestarts.inc({ watch, reason }, 0);
  }
  m.buildInfo.set({ ...buildInfo() }, 1);
  m.grantsHeld.set(0);
}
