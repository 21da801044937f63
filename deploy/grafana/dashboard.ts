/**
 * The slotlock SLO dashboard. `scripts/gen-dashboard.ts` writes it to slotlock-dashboard.json (and
 * to the Grafana ConfigMap in deploy/k8s/overlays/monitoring); test/deploy/dashboard.test.ts keeps them in step.
 * One row per SLI; thresholds drawn on the panels are the SLOs in deploy/prometheus/slotlock.rules.yaml.
 */
import { datasource, layout, stat, timeseries, type Panel, type Row } from './panels.js';

/** Label matchers every raw query carries, driven by the namespace and job variables. */
const sel = 'namespace=~"$namespace", job=~"$job"';
const win = '$__rate_interval';
/** The API traffic the availability SLI counts: probes and scrapes left out. */
const api = 'route!~"/livez|/readyz|/metrics"';

const rows: Row[] = [
  {
    title: 'Error-budget burn (1 h window; page at 14.4)',
    panels: [
      timeseries({
        title: 'Burn rate by SLO',
        description:
          'Error ratio over the last hour divided by the error budget (1 - objective). 1 spends the 30-day budget in exactly 30 days; 14.4 over 1 h (with 5 m confirming) pages.',
        unit: 'none',
        width: 24,
        min: 0,
        line: { value: 14.4 },
        queries: [
          [`slotlock:lock_acquire_slow:ratio_rate1h{${sel}} / 0.05`, 'acquire latency {{job}}'],
          [`slotlock:election_slow:ratio_rate1h{${sel}} / 0.05`, 'election latency {{job}}'],
          [`slotlock:etcd_txn_slow:ratio_rate1h{${sel}} / 0.05`, 'etcd commit latency {{job}}'],
          [`slotlock:http_requests_errors:ratio_rate1h{${sel}} / 0.001`, 'availability {{job}}'],
        ],
      }),
    ],
  },
  {
    title: 'Lock acquire latency (SLO: try-mode p95 < 100 ms)',
    panels: [
      timeseries({
        title: 'Acquire p95 by mode',
        description:
          'p95 time to answer an acquire. The SLO covers mode="try" only: mode="wait" includes queueing behind the holder by design.',
        unit: 's',
        width: 16,
        min: 0,
        line: { value: 0.1 },
        queries: [
          [
            `histogram_quantile(0.95, sum by (mode, le) (rate(slotlock_lock_acquire_duration_seconds_bucket{${sel}}[${win}])))`,
            'p95 {{mode}}',
          ],
        ],
      }),
      stat({
        title: 'Try-mode acquires within 100 ms (time range)',
        description: 'Share of try-mode acquires answered within 100 ms over the selected range.',
        unit: 'percentunit',
        width: 8,
        decimals: 2,
        line: { value: 0.95, below: true },
        expr: `sum(increase(slotlock_lock_acquire_duration_seconds_bucket{${sel}, mode="try", le="0.1"}[$__range])) / sum(increase(slotlock_lock_acquire_duration_seconds_count{${sel}, mode="try"}[$__range]))`,
      }),
    ],
  },
  {
    title: 'Lock contention (tracked, no SLO)',
    panels: [
      timeseries({
        title: 'Contention ratio',
        description: '(after_wait + busy + timeout) / all acquires.',
        unit: 'percentunit',
        width: 8,
        min: 0,
        queries: [
          [
            `(sum(rate(slotlock_lock_acquire_total{${sel}, outcome=~"after_wait|busy|timeout"}[${win}])) or vector(0)) / sum(rate(slotlock_lock_acquire_total{${sel}}[${win}]))`,
            'contention',
          ],
        ],
      }),
      timeseries({
        title: 'Acquire outcomes',
        description: 'Acquires per second by outcome.',
        unit: 'reqps',
        width: 8,
        stack: true,
        queries: [
          [`sum by (outcome) (rate(slotlock_lock_acquire_total{${sel}}[${win}]))`, '{{outcome}}'],
        ],
      }),
      timeseries({
        title: 'Waiting acquire requests',
        description: 'Wait-mode acquires currently queued, per replica.',
        unit: 'short',
        width: 8,
        min: 0,
        queries: [[`sum by (instance) (slotlock_lock_waiting{${sel}})`, '{{instance}}']],
      }),
    ],
  },
  {
    title: 'Leader election (SLO: leaderless time p95 < 5 s)',
    panels: [
      timeseries({
        title: 'Leaderless time p95',
        description:
          "Leaderless time: from the old leader's resign, or its last keepalive (its lease expiry minus its TTL) after a crash, to the next leader's grant. A crash costs at least the TTL. Elections are rare: the 1 h recording rule is the SLI, the per-election series is sparse.",
        unit: 's',
        width: 12,
        min: 0,
        line: { value: 5 },
        queries: [
          [`slotlock:election_duration_seconds:p95_rate1h{${sel}}`, 'p95 over 1 h {{job}}'],
          [
            `histogram_quantile(0.95, sum by (election, le) (rate(slotlock_election_duration_seconds_bucket{${sel}}[${win}])))`,
            '{{election}}',
          ],
        ],
      }),
      stat({
        title: 'Leader present',
        description: 'Per election: does any replica see a leader?',
        unit: 'none',
        width: 6,
        line: { value: 1, below: true },
        mappings: [
          {
            type: 'value',
            options: {
              '0': { text: 'NO LEADER', color: 'red', index: 0 },
              '1': { text: 'leader', color: 'green', index: 1 },
            },
          },
        ],
        expr: `max by (election) (slotlock_election_leader_present{${sel}})`,
      }),
      timeseries({
        title: 'Handover time p95 (part of the leaderless time)',
        description:
          "From a replica seeing the old leader's key deleted (or sending the resign) to the next leader's grant: slotlock's own share of the gap, without failure detection.",
        unit: 's',
        width: 12,
        min: 0,
        queries: [
          [
            `histogram_quantile(0.95, sum by (reason, le) (rate(slotlock_election_handover_seconds_bucket{${sel}}[${win}])))`,
            '{{reason}}',
          ],
        ],
      }),
      timeseries({
        title: 'Leader changes',
        description: 'Leader changes observed per election.',
        unit: 'short',
        width: 6,
        min: 0,
        queries: [
          [
            `sum by (election) (increase(slotlock_election_leader_changes_total{${sel}}[${win}]))`,
            '{{election}}',
          ],
        ],
      }),
    ],
  },
  {
    title: 'etcd commit latency (SLO: txn p95 < 50 ms)',
    panels: [
      timeseries({
        title: 'etcd txn p95',
        description: 'p95 latency of etcd transactions (the commit path of every grant).',
        unit: 's',
        width: 12,
        min: 0,
        line: { value: 0.05 },
        queries: [
          [
            `histogram_quantile(0.95, sum by (le) (rate(slotlock_etcd_request_duration_seconds_bucket{${sel}, op="txn"}[${win}])))`,
            'txn p95',
          ],
        ],
      }),
      timeseries({
        title: 'etcd p95 by operation',
        description: 'p95 latency of every etcd request kind.',
        unit: 's',
        width: 12,
        min: 0,
        queries: [
          [
            `histogram_quantile(0.95, sum by (op, le) (rate(slotlock_etcd_request_duration_seconds_bucket{${sel}}[${win}])))`,
            '{{op}}',
          ],
        ],
      }),
    ],
  },
  {
    title: 'Availability (SLO: 99.9 % of requests answered without a 5xx)',
    panels: [
      timeseries({
        title: 'Requests answered without a 5xx',
        description:
          'Share of HTTP requests (probes and /metrics left out) answered without a 5xx. 4xx (busy, bad input) and requests the client abandoned are not failures.',
        unit: 'percentunit',
        width: 12,
        line: { value: 0.999, below: true },
        queries: [
          [`1 - slotlock:http_requests_errors:ratio_rate5m{${sel}}`, 'availability {{job}}'],
        ],
      }),
      stat({
        title: 'Availability (time range)',
        description: 'Share of HTTP requests answered without a 5xx over the selected range.',
        unit: 'percentunit',
        width: 4,
        decimals: 3,
        line: { value: 0.999, below: true },
        expr: `1 - ((sum(increase(slotlock_http_requests_total{${sel}, status_class="5xx", ${api}}[$__range])) or vector(0)) / sum(increase(slotlock_http_requests_total{${sel}, ${api}}[$__range])))`,
      }),
      timeseries({
        title: 'Requests by route and status class',
        description: 'HTTP requests per second by route template and status class.',
        unit: 'reqps',
        width: 8,
        stack: true,
        queries: [
          [
            `sum by (route, status_class) (rate(slotlock_http_requests_total{${sel}, ${api}}[${win}]))`,
            '{{route}} {{status_class}}',
          ],
        ],
      }),
      timeseries({
        title: 'Request p95 by route',
        description:
          'HTTP request duration p95 by route template (long polls and streams included).',
        unit: 's',
        width: 12,
        min: 0,
        queries: [
          [
            `histogram_quantile(0.95, sum by (route, le) (rate(slotlock_http_request_duration_seconds_bucket{${sel}, ${api}}[${win}])))`,
            '{{route}}',
          ],
        ],
      }),
      timeseries({
        title: 'etcd requests by outcome',
        description:
          'etcd requests per second by operation and outcome (ok|error|unavailable); a diagnostic, not the SLI.',
        unit: 'reqps',
        width: 12,
        stack: true,
        queries: [
          [
            `sum by (op, outcome) (rate(slotlock_etcd_requests_total{${sel}}[${win}]))`,
            '{{op}} {{outcome}}',
          ],
        ],
      }),
    ],
  },
  {
    title: 'Fencing (SLO: 0 stale writes applied)',
    panels: [
      stat({
        title: 'Stale tokens (time range)',
        description:
          'Stale fencing tokens rejected over the range. Rejection is fencing working; any at all means a holder was paused or partitioned past its lease.',
        unit: 'short',
        width: 6,
        decimals: 0,
        line: { value: 1 },
        expr: `round(sum(increase(slotlock_fencing_stale_tokens_total{${sel}}[$__range])) or vector(0))`,
      }),
      timeseries({
        title: 'Stale tokens by source',
        description: 'Stale tokens rejected, by where (check|store|report).',
        unit: 'short',
        width: 9,
        min: 0,
        queries: [
          [
            `sum by (source) (increase(slotlock_fencing_stale_tokens_total{${sel}}[${win}]))`,
            '{{source}}',
          ],
        ],
      }),
      timeseries({
        title: 'Fenced writes by outcome',
        description: 'Fenced writes per second (applied|rejected).',
        unit: 'wps',
        width: 9,
        stack: true,
        queries: [
          [`sum by (outcome) (rate(slotlock_fencing_writes_total{${sel}}[${win}]))`, '{{outcome}}'],
        ],
      }),
    ],
  },
  {
    title: 'Replicas',
    panels: [
      timeseries({
        title: 'Grants held by replica',
        description:
          'Grants made by each replica and not yet ended (its own view; a restarted replica forgets the grants it made before).',
        unit: 'short',
        width: 12,
        min: 0,
        queries: [[`sum by (instance) (slotlock_lock_grants_held{${sel}})`, '{{instance}}']],
      }),
      timeseries({
        title: 'Replicas by version and commit',
        description: 'slotlock_build_info: how many replicas run each build (a rollout shows two).',
        unit: 'short',
        width: 12,
        min: 0,
        queries: [
          [`count by (version, commit) (slotlock_build_info{${sel}})`, '{{version}} {{commit}}'],
        ],
      }),
    ],
  },
  {
    title: 'Grants and leases',
    panels: [
      timeseries({
        title: 'Grant ends by reason',
        description: 'Grants ending per second: released by the holder, or expired.',
        unit: 'ops',
        width: 8,
        stack: true,
        queries: [
          [`sum by (reason) (rate(slotlock_lock_grant_ends_total{${sel}}[${win}]))`, '{{reason}}'],
        ],
      }),
      timeseries({
        title: 'Keepalive outcomes',
        description: 'Holder keepalives per second (ok|gone|error).',
        unit: 'ops',
        width: 8,
        stack: true,
        queries: [
          [
            `sum by (outcome) (rate(slotlock_lease_keepalive_total{${sel}}[${win}]))`,
            '{{outcome}}',
          ],
        ],
      }),
      timeseries({
        title: 'Hold duration p95 by reason',
        description: 'How long grants were held before they ended.',
        unit: 's',
        width: 8,
        min: 0,
        queries: [
          [
            `histogram_quantile(0.95, sum by (reason, le) (rate(slotlock_lock_hold_duration_seconds_bucket{${sel}}[${win}])))`,
            '{{reason}}',
          ],
        ],
      }),
    ],
  },
];

/** A `label_values` query variable over the datasource variable, with "All" meaning any value. */
function labelVariable(name: string, label: string, query: string) {
  return {
    type: 'query',
    name,
    label,
    datasource,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    sort: 1,
    includeAll: true,
    allValue: '.*',
    multi: false,
    current: {},
    options: [],
    regex: '',
    hide: 0,
    skipUrlSync: false,
  };
}

/** The dashboard object (Grafana JSON model); stable uid `slotlock-slo`. */
export function slotlockDashboard(): Record<string, unknown> {
  const panels: Panel[] = layout(rows);
  return {
    uid: 'slotlock-slo',
    title: 'slotlock SLOs',
    description:
      'slotlock SLIs: lock acquire latency, contention, leader election, etcd commit latency, availability and stale fencing tokens.',
    tags: ['slotlock', 'slo', 'etcd'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    templating: {
      list: [
        {
          type: 'datasource',
          name: 'datasource',
          label: 'Data source',
          query: 'prometheus',
          current: {},
          options: [],
          regex: '',
          refresh: 1,
          hide: 0,
          includeAll: false,
          multi: false,
          skipUrlSync: false,
        },
        labelVariable('namespace', 'Namespace', 'label_values(slotlock_lock_waiting, namespace)'),
        labelVariable(
          'job',
          'Job',
          'label_values(slotlock_lock_waiting{namespace=~"$namespace"}, job)',
        ),
      ],
    },
    annotations: { list: [] },
    panels,
  };
}
