/** The issue's targets, judged plainly from one run's results. */
import type { Results, Target } from './report.js';
import type { ContendedResult } from './slotlock-http.js';
import type { Measured } from './report.js';
import { fmt } from './stats.js';

const ms = (v: number) => `${fmt(v)} ms`;
const rate = (v: number) => `${fmt(v)}/s`;

function perHandover(m: Measured<ContendedResult> | undefined): number | undefined {
  const req = m?.usage?.etcdRequests;
  if (m === undefined || req === undefined || m.result.loop.ops === 0) return undefined;
  return req.total / m.result.loop.ops;
}

/** FIFO over clients that re-queue at once: grants per client differ by at most 2, or 10 %. */
export function isFifoFair(f: { min: number; max: number }): boolean {
  return f.min > 0 && (f.max - f.min <= 2 || f.max / f.min <= 1.1);
}

export function buildTargets(r: Results): Target[] {
  const t: Target[] = [];
  for (const mode of ['session', 'per-grant'] as const) {
    const s = r.slotlock[mode].c1?.result.latency.p50;
    const f = r.floor[mode].c1?.result.latency.p50;
    t.push({
      target: `uncontended cycle at concurrency 1 (${mode}) p50 ≤ 2× raw etcd cycle (its floor)`,
      met: s === undefined || f === undefined ? undefined : s <= 2 * f,
      detail:
        s === undefined || f === undefined
          ? 'not measured'
          : `${ms(s)} vs floor ${ms(f)} = ${fmt(s / f)}×`,
    });
  }
  const s64 = r.slotlock.session.c64?.result.opsPerS;
  const naive = r.naive.c64?.result.opsPerS;
  const lock64 = r.etcd3Lock.c64?.result.opsPerS;
  t.push({
    target: 'concurrency 64 session mode ≥ 1.5× naive REST floor',
    met: s64 === undefined || naive === undefined ? undefined : s64 >= 1.5 * naive,
    detail:
      s64 === undefined || naive === undefined
        ? 'not measured'
        : `${rate(s64)} vs naive ${rate(naive)} = ${fmt(s64 / naive)}×`,
  });
  t.push({
    target: 'concurrency 64 session mode ≥ 1.5× etcd3 Lock',
    met: s64 === undefined || lock64 === undefined ? undefined : s64 >= 1.5 * lock64,
    detail:
      s64 === undefined || lock64 === undefined
        ? 'not measured'
        : `${rate(s64)} vs etcd3 Lock ${rate(lock64)} = ${fmt(s64 / lock64)}×`,
  });
  const ceiling = r.ceiling.c64?.result.opsPerS;
  t.push({
    target: 'concurrency 64 session mode HTTP requests/s (2 per cycle) ≥ 0.8× bare express ceiling',
    met: s64 === undefined || ceiling === undefined ? undefined : 2 * s64 >= 0.8 * ceiling,
    detail:
      s64 === undefined || ceiling === undefined
        ? 'not measured'
        : `${rate(2 * s64)} vs express ceiling ${rate(ceiling)} = ${fmt((2 * s64) / ceiling)}×`,
  });
  const go64 = r.goMutex.c64?.result.opsPerS;
  t.push({
    target: 'STRETCH concurrency 64 session mode ≥ 0.5× etcd Go concurrency.Mutex (in-process)',
    met: s64 === undefined || go64 === undefined ? undefined : s64 >= 0.5 * go64,
    detail:
      s64 === undefined || go64 === undefined
        ? r.goMutexSkipped === undefined
          ? 'not measured'
          : `not measured (Go peer skipped: ${r.goMutexSkipped})`
        : `${rate(s64)} vs Go Mutex ${rate(go64)} = ${fmt(s64 / go64)}×`,
  });
  const c = r.contended.session64?.result;
  const lockC = r.contended.etcd3Lock64?.result;
  t.push({
    target: 'contended handover ≥ 10× etcd3 Lock-with-retries, FIFO-fair',
    met:
      c === undefined || lockC === undefined
        ? undefined
        : c.loop.opsPerS >= 10 * lockC.loop.opsPerS && isFifoFair(c.fairness),
    detail:
      c === undefined || lockC === undefined
        ? 'not measured'
        : `${rate(c.loop.opsPerS)} vs ${rate(lockC.loop.opsPerS)} = ${fmt(c.loop.opsPerS / lockC.loop.opsPerS)}×; grants/client max/min ${c.fairness.max}/${c.fairness.min} (${isFifoFair(c.fairness) ? 'fair' : 'NOT fair'}; etcd3 Lock ${lockC.fairness.max}/${lockC.fairness.min})`,
  });
  t.push(...goContendedTargets(r));
  const h8 = perHandover(r.contended.session8);
  const h64 = perHandover(r.contended.session64);
  t.push({
    target: 'etcd requests per handover independent of the number of waiters',
    met: h8 === undefined || h64 === undefined ? undefined : h64 <= 1.1 * h8,
    detail:
      h8 === undefined || h64 === undefined
        ? 'not measured'
        : `${fmt(h8)} with 8 waiters, ${fmt(h64)} with 64 (limit +10 %)`,
  });
  for (const fo of r.elections.failover) {
    t.push({
      target: `failover after leader crash ≤ TTL + 1 s (TTL ${fo.ttlS} s)`,
      met: fo.summary.n === 0 ? undefined : fo.summary.max <= fo.ttlS * 1000 + 1000,
      detail: `worst ${ms(fo.summary.max)}, p50 ${ms(fo.summary.p50)} over ${fo.summary.n} kills (limit ${ms(fo.ttlS * 1000 + 1000)})`,
    });
  }
  const rs = r.elections.resign;
  t.push({
    target: 'handover after resign p50 ≤ 50 ms',
    met: rs === undefined || rs.summary.n === 0 ? undefined : rs.summary.p50 <= 50,
    detail:
      rs === undefined
        ? 'not measured'
        : `p50 ${ms(rs.summary.p50)}, p99 ${ms(rs.summary.p99)} over ${rs.summary.n}`,
  });
  const held = r.resources.held;
  const full = held !== undefined && held.grants >= 10_000 && held.waiters >= 1_000;
  t.push({
    target: '10,000 grants + 1,000 waiters in under 300 MB RSS',
    met:
      held === undefined || !full
        ? undefined
        : held.rssMb < 300 && held.waitingGauge >= held.waiters,
    detail:
      held === undefined
        ? 'not measured'
        : `${fmt(held.rssMb)} MB with ${held.grants} grants and ${held.waitingGauge} waiting${full ? '' : ' (scaled down by --quick: run the full bench to judge)'}`,
  });
  return t;
}

/** Strict FIFO over clients that re-queue at once: grants per client differ by at most 1. */
export function isStrictlyFair(f: { min: number; max: number }): boolean {
  return f.min > 0 && f.max - f.min <= 1;
}

/** Contended slotlock against etcd's Go Mutex in the same run: ≥ 1× at 64 clients, ≥ 2× at 8. */
function goContendedTargets(r: Results): Target[] {
  const skipped =
    r.goMutexSkipped === undefined
      ? 'not measured'
      : `not measured (Go peer skipped: ${r.goMutexSkipped})`;
  const pairs = [
    { clients: 64, factor: 1, s: r.contended.session64, go: r.contended.goMutex64 },
    { clients: 8, factor: 2, s: r.contended.session8, go: r.contended.goMutex8 },
  ];
  return pairs.map(({ clients, factor, s, go }) => {
    const fair = clients === 64 ? ', FIFO-fair (max − min grants per client ≤ 1)' : '';
    const target = `contended ${clients} clients ≥ ${factor}× etcd Go Mutex ${clients}${fair}`;
    if (s === undefined || go === undefined) {
      return { target, met: undefined, detail: s === undefined ? 'not measured' : skipped };
    }
    const a = s.result.loop.opsPerS;
    const b = go.result.loop.opsPerS;
    const f = s.result.fairness;
    const fairOk = clients !== 64 || isStrictlyFair(f);
    return {
      target,
      met: a >= factor * b && fairOk,
      detail: `${rate(a)} vs Go Mutex ${rate(b)} = ${fmt(a / b)}×; grants/client max/min ${f.max}/${f.min}${clients === 64 ? ` (${fairOk ? 'fair' : 'NOT fair'})` : ''}`,
    };
  });
}
