/** Turns one run's results into the table (markdown), the target verdicts and the JSON record. */
import type { LoopResult } from './load.js';
import type { ContendedResult } from './slotlock-http.js';
import type { RetryContendedResult } from './peers-etcd3-lock.js';
import type { FailoverResult, ResignResult } from './elections.js';
import type { HeldResult, IdleResult } from './resources.js';
import type { ServiceProfiles } from './profile-service.js';
import type { GrowthResults } from './growth.js';
import { growthRows } from './growth-report.js';
import type { Usage } from './usage.js';
import { fmt } from './stats.js';

export interface Measured<T> {
  result: T;
  usage: Usage | undefined;
}

type ByConc = Record<string, Measured<LoopResult> | undefined>;

/** Everything one run measured; keys like "c64" are concurrencies. Missing parts failed or were skipped. */
export interface Results {
  quick: boolean;
  floor: { session: ByConc; 'per-grant': ByConc };
  slotlock: { session: ByConc; 'per-grant': ByConc };
  naive: ByConc;
  /** The bare express ceiling (bench/express-ceiling.ts): GET requests/s, concurrency 64 only. */
  ceiling: ByConc;
  etcd3Lock: ByConc;
  redlock: ByConc;
  /** etcd's Go concurrency.Mutex in-process (bench/go-mutex); usage.svc* is the Go process. */
  goMutex: ByConc;
  /** Why the Go peer was not measured (Go or etcd's sources missing, build failed). */
  goMutexSkipped?: string | undefined;
  contended: {
    session64?: Measured<ContendedResult> | undefined;
    session8?: Measured<ContendedResult> | undefined;
    perGrant64?: Measured<ContendedResult> | undefined;
    capacity8?: Measured<ContendedResult> | undefined;
    etcd3Lock64?: Measured<RetryContendedResult> | undefined;
    redlock64?: Measured<RetryContendedResult> | undefined;
    goMutex64?: Measured<ContendedResult> | undefined;
    goMutex8?: Measured<ContendedResult> | undefined;
  };
  /** Driver + vehicle from a pool (bench/bundles.ts): one bundle vs two slots in a fixed order. */
  bundles?: {
    bundle64?: Measured<LoopResult> | undefined;
    ordered64?: Measured<LoopResult> | undefined;
  };
  /** How cost grows (bench/growth.ts): waiters, a filled etcd, idle waiters/observers, replicas. */
  growth?: GrowthResults | undefined;
  /** Failover after SIGKILL, one result per lease TTL measured. */
  elections: { failover: FailoverResult[]; resign?: ResignResult | undefined };
  resources: {
    idle?: IdleResult | undefined;
    held?: HeldResult | undefined;
    rssAfterHeldMb?: number | undefined;
  };
  profile?: ServiceProfiles | undefined;
  errors: string[];
}

export interface Row {
  scenario: string;
  conc: string;
  rate: number | undefined;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
  vsFloor: string;
  notes: string;
}

const x = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${fmt(v)}×`);

function cores(u: Usage | undefined): string {
  if (u === undefined) return '';
  const svc = Number.isNaN(u.svcCores) ? '' : `server ${fmt(u.svcCores, 2)} / `;
  return `cores ${svc}etcd ${fmt(u.etcdCores, 2)} / gen ${fmt(u.genCores, 2)}`;
}

/** The Go peer's own process counts as "go", not as a server under test. */
function goCores(u: Usage | undefined): string {
  if (u === undefined) return '';
  return `cores go ${fmt(u.svcCores, 2)} / etcd ${fmt(u.etcdCores, 2)}`;
}

/** A Go peer row: "skipped: why" instead of "not measured" when it could not be built. */
function goRow(row: Row, skipped: string | undefined): Row {
  return row.notes === 'not measured' && skipped !== undefined
    ? { ...row, notes: `skipped: ${skipped}`.slice(0, 200) }
    : row;
}

function etcdPer(u: Usage | undefined, per: number, unit: string): string {
  const req = u?.etcdRequests;
  if (req === undefined || per === 0) return '';
  const ops = Object.entries(req.byOp)
    .map(([op, n]) => `${op} ${fmt(n / per, 2)}`)
    .join(', ');
  return `etcd req/${unit} ${fmt(req.total / per, 3)} (${ops})`;
}

/** CPU the server under test spent per operation, in µs. */
function svcCpu(u: Usage | undefined, per: number, unit: string): string {
  if (u === undefined || per === 0 || Number.isNaN(u.svcCpuSeconds)) return '';
  return `server CPU ${fmt((u.svcCpuSeconds * 1e6) / per)} µs/${unit}`;
}

function errs(r: LoopResult): string {
  return r.errors === 0 ? '' : `${r.errors} errors: ${r.firstError ?? ''}`.slice(0, 160);
}

const join = (...parts: string[]) => parts.filter(p => p !== '').join('; ');

function loopRow(
  scenario: string,
  m: Measured<LoopResult> | undefined,
  vsFloor: string,
  notes: string,
): Row {
  const r = m?.result;
  return {
    scenario,
    conc: r === undefined ? '—' : String(r.concurrency),
    rate: r?.opsPerS,
    p50: r?.latency.p50,
    p95: r?.latency.p95,
    p99: r?.latency.p99,
    vsFloor,
    notes: r === undefined ? 'not measured' : join(notes, errs(r)),
  };
}

/** p50 ratio at concurrency 1, throughput ratio above (the floor is the denominator either way). */
function ratio(
  m: Measured<LoopResult> | undefined,
  floor: Measured<LoopResult> | undefined,
): string {
  if (m === undefined || floor === undefined) return '—';
  if (m.result.concurrency === 1)
    return `${x(m.result.latency.p50 / floor.result.latency.p50)} p50`;
  return `${x(m.result.opsPerS / floor.result.opsPerS)} rate`;
}

const CONCS = ['c1', 'c8', 'c64'] as const;

export function buildRows(r: Results): Row[] {
  const rows: Row[] = [];
  const section = (title: string) =>
    rows.push({
      scenario: `**${title}**`,
      conc: '',
      rate: undefined,
      p50: undefined,
      p95: undefined,
      p99: undefined,
      vsFloor: '',
      notes: '',
    });
  const floorS = r.floor.session;
  const floorG = r.floor['per-grant'];

  section('floor: raw etcd3 RPCs, no HTTP (cycles/s, cycle ms)');
  for (const c of CONCS)
    rows.push(
      loopRow(
        'etcd txn create + txn delete (session lease)',
        floorS[c],
        '1×',
        cores(floorS[c]?.usage),
      ),
    );
  for (const c of CONCS)
    rows.push(
      loopRow(
        'etcd lease grant + txn + revoke (lease per lock)',
        floorG[c],
        '1×',
        cores(floorG[c]?.usage),
      ),
    );

  section('uncontended acquire+release over HTTP, distinct slots');
  for (const mode of ['session', 'per-grant'] as const) {
    for (const c of CONCS) {
      const m = r.slotlock[mode][c];
      const perOp = m === undefined ? 0 : m.result.ops;
      rows.push(
        loopRow(
          `slotlock ${mode}`,
          m,
          ratio(m, r.floor[mode][c]),
          join(
            etcdPer(m?.usage, perOp, 'cycle'),
            svcCpu(m?.usage, perOp, 'cycle'),
            cores(m?.usage),
          ),
        ),
      );
    }
  }
  for (const c of ['c1', 'c64']) {
    rows.push(
      loopRow(
        'naive REST floor (express + 1 txn each way)',
        r.naive[c],
        ratio(r.naive[c], floorS[c]),
        join(
          svcCpu(r.naive[c]?.usage, r.naive[c]?.result.ops ?? 0, 'cycle'),
          cores(r.naive[c]?.usage),
        ),
      ),
    );
  }
  const ceil = r.ceiling.c64;
  const s64 = r.slotlock.session.c64?.result.opsPerS;
  rows.push(
    loopRow(
      'bare express 5 ceiling: one JSON route (HTTP requests/s)',
      ceil,
      '—',
      join(
        ceil === undefined || s64 === undefined
          ? ''
          : `slotlock session c64 = ${fmt(2 * s64)} HTTP req/s = ${x((2 * s64) / ceil.result.opsPerS)} of it`,
        svcCpu(ceil?.usage, ceil?.result.ops ?? 0, 'request'),
        cores(ceil?.usage),
      ),
    ),
  );
  for (const c of ['c1', 'c64']) {
    rows.push(
      loopRow(
        'etcd3 npm Lock (vs lease-per-lock floor)',
        r.etcd3Lock[c],
        ratio(r.etcd3Lock[c], floorG[c]),
        join('no token', cores(r.etcd3Lock[c]?.usage)),
      ),
    );
  }
  for (const c of ['c1', 'c64']) {
    rows.push(
      loopRow(
        'Redis + redlock 4 (vs session floor)',
        r.redlock[c],
        ratio(r.redlock[c], floorS[c]),
        join('no fencing token', cores(r.redlock[c]?.usage)),
      ),
    );
  }

  for (const c of ['c1', 'c64']) {
    rows.push(
      goRow(
        loopRow(
          'etcd Go concurrency.Mutex, in-process (vs session floor)',
          r.goMutex[c],
          ratio(r.goMutex[c], floorS[c]),
          join('1 session per worker, Lock txn + Unlock delete', goCores(r.goMutex[c]?.usage)),
        ),
        r.goMutexSkipped,
      ),
    );
  }

  section('contended: clients on ONE slot, release at once (handovers/s, wait ms)');
  const serial = floorS.c1;
  const contendedRow = (name: string, m: Measured<ContendedResult> | undefined) => {
    const loop = m === undefined ? undefined : { result: m.result.loop, usage: m.usage };
    const f = m?.result.fairness;
    rows.push(
      loopRow(
        name,
        loop,
        loop === undefined || serial === undefined
          ? '—'
          : `${x(loop.result.opsPerS / serial.result.opsPerS)} floor c1 rate`,
        join(
          f === undefined ? '' : `grants/client max/min ${f.max}/${f.min}`,
          etcdPer(m?.usage, m?.result.loop.ops ?? 0, 'handover'),
          svcCpu(m?.usage, m?.result.loop.ops ?? 0, 'handover'),
          cores(m?.usage),
        ),
      ),
    );
  };
  contendedRow('slotlock session, wait mode, 64 clients', r.contended.session64);
  contendedRow('slotlock session, wait mode, 8 clients', r.contended.session8);
  contendedRow('slotlock per-grant lease, wait mode, 64 clients', r.contended.perGrant64);
  contendedRow('slotlock capacity 8 (semaphore), 64 clients', r.contended.capacity8);
  const retryRow = (name: string, m: Measured<RetryContendedResult> | undefined) => {
    const loop = m === undefined ? undefined : { result: m.result.loop, usage: m.usage };
    const f = m?.result.fairness;
    rows.push(
      loopRow(
        name,
        loop,
        loop === undefined || serial === undefined
          ? '—'
          : `${x(loop.result.opsPerS / serial.result.opsPerS)} floor c1 rate`,
        join(
          f === undefined ? '' : `grants/client max/min ${f.max}/${f.min}`,
          m === undefined ? '' : `attempts/grant ${fmt(m.result.attemptsPerGrant)}`,
          cores(m?.usage),
        ),
      ),
    );
  };
  retryRow('etcd3 npm Lock + retry 1-5 ms, 64 clients', r.contended.etcd3Lock64);
  retryRow('redlock + retry 1-5 ms, 64 clients', r.contended.redlock64);
  for (const clients of [64, 8] as const) {
    const go = r.contended[`goMutex${clients}`];
    const goLoop = go === undefined ? undefined : { result: go.result.loop, usage: go.usage };
    rows.push(
      goRow(
        loopRow(
          `etcd Go concurrency.Mutex (waits on a watch), ${clients} clients`,
          goLoop,
          goLoop === undefined || serial === undefined
            ? '—'
            : `${x(goLoop.result.opsPerS / serial.result.opsPerS)} floor c1 rate`,
          join(
            go === undefined
              ? ''
              : `grants/client max/min ${go.result.fairness.max}/${go.result.fairness.min}`,
            goCores(go?.usage),
          ),
        ),
        r.goMutexSkipped,
      ),
    );
  }

  section('bundles: a driver AND a vehicle from pools of 8 + 8 (both held: per s, wait ms)');
  const bundleRow = (
    name: string,
    m: Measured<LoopResult> | undefined,
    other?: Measured<LoopResult>,
  ) => {
    rows.push(
      loopRow(
        name,
        m,
        m === undefined || other === undefined
          ? '—'
          : `${x(m.result.opsPerS / other.result.opsPerS)} one-by-one rate`,
        join(etcdPer(m?.usage, m?.result.ops ?? 0, 'pair'), cores(m?.usage)),
      ),
    );
  };
  bundleRow('slotlock bundle of 2 slots, 64 clients', r.bundles?.bundle64, r.bundles?.ordered64);
  bundleRow('2 single-slot acquires in a fixed order, 64 clients', r.bundles?.ordered64);

  section('elections');
  for (const fo of r.elections.failover) {
    rows.push({
      scenario: `failover after SIGKILL of the leader (TTL ${fo.ttlS} s)`,
      conc: '1+1',
      rate: undefined,
      p50: fo.summary.p50,
      p95: fo.summary.p95,
      p99: fo.summary.p99,
      vsFloor: '—',
      notes: `n=${fo.summary.n}, max ${fmt(fo.summary.max)} ms (kill → waiting candidate elected)`,
    });
  }
  const rs = r.elections.resign;
  rows.push({
    scenario: 'handover after resign',
    conc: '1+1',
    rate: undefined,
    p50: rs?.summary.p50,
    p95: rs?.summary.p95,
    p99: rs?.summary.p99,
    vsFloor:
      rs === undefined || serial === undefined
        ? '—'
        : `${x(rs.summary.p50 / serial.result.latency.p50)} floor c1 p50`,
    notes:
      rs === undefined
        ? 'not measured'
        : `n=${rs.summary.n}${rs.notQueued > 0 ? `, ${rs.notQueued} rounds not queued in time (dropped)` : ''} (resign sent → next leader's 201)`,
  });

  section('service resources (from its /metrics)');
  const idle = r.resources.idle;
  const res = (scenario: string, notes: string) =>
    rows.push({
      scenario,
      conc: '',
      rate: undefined,
      p50: undefined,
      p95: undefined,
      p99: undefined,
      vsFloor: '—',
      notes,
    });
  res(
    'idle',
    idle === undefined
      ? 'not measured'
      : `CPU ${fmt(idle.cpuCores * 100, 2)} % of a core, RSS ${fmt(idle.rssMb)} MB (V8 heap used ${fmt(idle.heapMb)} MB)`,
  );
  const load = r.slotlock.session.c64;
  res(
    'under load (session, 64 clients)',
    load?.usage === undefined
      ? 'not measured'
      : `CPU ${fmt(load.usage.svcCores, 2)} cores, RSS ${fmt(load.usage.svcRssMb)} MB (V8 heap used ${fmt(load.usage.svcHeapMb)} MB)`,
  );
  const held = r.resources.held;
  res(
    `${held?.grants.toLocaleString('en-US') ?? '?'} held grants + ${held?.waiters.toLocaleString('en-US') ?? '?'} waiters`,
    held === undefined
      ? 'not measured'
      : `RSS ${fmt(held.rssMb)} MB (V8 heap used ${fmt(held.heapMb)} MB), CPU ${fmt(held.cpuCores * 100, 2)} % of a core while parked (gauge ${held.waitingGauge} waiting${held.waiterFailures > 0 ? `, ${held.waiterFailures} waiters failed: ${held.firstWaiterFailure ?? ''}` : ''}); took ${fmt(held.acquirePerS)} grants/s; RSS after all left ${fmt(r.resources.rssAfterHeldMb)} MB`,
  );
  if (r.growth !== undefined) rows.push(...growthRows(r.growth));
  return rows;
}

export function renderTable(rows: Row[]): string {
  const head = ['scenario', 'conc', 'rate /s', 'p50 ms', 'p95 ms', 'p99 ms', 'vs floor', 'notes'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const cells =
      r.conc === '' && r.vsFloor === ''
        ? [r.scenario, '', '', '', '', '', '', '']
        : [r.scenario, r.conc, fmt(r.rate), fmt(r.p50), fmt(r.p95), fmt(r.p99), r.vsFloor, r.notes];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface Target {
  target: string;
  met: boolean | undefined;
  detail: string;
}

export function renderTargets(targets: Target[]): string {
  return targets
    .map(
      t =>
        `${t.met === undefined ? 'NOT MEASURED' : t.met ? 'MET   ' : 'MISSED'}  ${t.target}: ${t.detail}`,
    )
    .join('\n');
}
