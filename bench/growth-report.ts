/** The table rows of the growth group (bench/growth.ts), each growth stated as a ratio. */
import { handoverMs, type GrowthResults } from './growth.js';
import { per1000, type IdleCost } from './growth-idle.js';
import type { Row } from './report.js';
import { fmt } from './stats.js';
import type { Usage } from './usage.js';

const x = (v: number) => (Number.isFinite(v) ? `${fmt(v)}×` : '—');
const join = (...parts: string[]) => parts.filter(p => p !== '').join('; ');

function row(scenario: string, conc: string, o: Partial<Row> = {}): Row {
  return {
    scenario,
    conc,
    rate: undefined,
    p50: undefined,
    p95: undefined,
    p99: undefined,
    vsFloor: '—',
    notes: '',
    ...o,
  };
}

function usageNotes(u: Usage | undefined, per: number, unit: string): string {
  if (u === undefined || per === 0) return '';
  const req =
    u.etcdRequests === undefined ? '' : `etcd req/${unit} ${fmt(u.etcdRequests.total / per, 3)}`;
  const cpu = Number.isNaN(u.svcCpuSeconds)
    ? ''
    : `server CPU ${fmt((u.svcCpuSeconds * 1e6) / per)} µs/${unit}`;
  return join(req, cpu, `cores server ${fmt(u.svcCores, 2)} / etcd ${fmt(u.etcdCores, 2)}`);
}

function idleRow(what: string, c: IdleCost | undefined): Row {
  if (c === undefined) return row(`idle ${what}: per 1,000`, '', { notes: 'not measured' });
  const p = per1000(c);
  return row(`idle ${what}: per 1,000`, String(c.n), {
    notes:
      `RSS +${fmt(p.rssMb)} MB, V8 heap +${fmt(p.heapMb)} MB, CPU +${fmt(p.cpuPct, 2)} % of a core per 1,000 ` +
      `(RSS ${fmt(c.rssBeforeMb)} → ${fmt(c.rssWithMb)} MB, CPU ${fmt(c.cpuBeforeCores * 100, 2)} → ${fmt(c.cpuWithCores * 100, 2)} % with ${c.n.toLocaleString('en-US')}; all in after ${fmt(c.arriveMs)} ms)`,
  });
}

export function growthRows(g: GrowthResults): Row[] {
  const rows: Row[] = [row('**how cost grows (--only=growth)**', '', { vsFloor: '' })];
  const base = g.handover.find(h => h.waiters === 8);
  const baseMs = base === undefined ? Number.NaN : handoverMs(base);
  for (const h of g.handover) {
    const loop = h.m.result.loop;
    const ms = handoverMs(h);
    rows.push(
      row(
        `handover on one slot, ${h.waiters.toLocaleString('en-US')} waiters (wait ms)`,
        String(h.waiters),
        {
          rate: loop.opsPerS,
          p50: loop.latency.p50,
          p95: loop.latency.p95,
          p99: loop.latency.p99,
          vsFloor: `${x(ms / baseMs)} ms/handover vs 8`,
          notes: join(
            `${fmt(ms, 3)} ms/handover`,
            usageNotes(h.m.usage, loop.ops, 'handover'),
            loop.errors > 0 ? `${loop.errors} errors: ${loop.firstError ?? ''}`.slice(0, 160) : '',
          ),
        },
      ),
    );
  }
  const f = g.fill;
  if (f !== undefined) {
    const scaled = g.quick ? ' (scaled down by --quick)' : '';
    rows.push(
      row('acquire (session), empty etcd', '1', {
        p50: f.empty.p50,
        p95: f.empty.p95,
        p99: f.empty.p99,
        vsFloor: '1×',
        notes: `n=${f.empty.n}; RSS ${fmt(f.rssEmptyMb)} MB`,
      }),
      row(
        `acquire (session), ${f.slots.toLocaleString('en-US')} idle slots + ${f.records.toLocaleString('en-US')} fenced records`,
        '1',
        {
          p50: f.filled.p50,
          p95: f.filled.p95,
          p99: f.filled.p99,
          vsFloor: `${x(f.filled.p50 / f.empty.p50)} p50 vs empty`,
          notes:
            `n=${f.filled.n}; asked ${f.slotsAsked.toLocaleString('en-US')} + ${f.recordsAsked.toLocaleString('en-US')}${scaled}; ` +
            `filled in ${fmt(f.fillS)} s, service idle again after ${Number.isNaN(f.settleS) ? 'NOT within 60 s' : `${fmt(f.settleS)} s`}; RSS ${fmt(f.rssFilledMb)} MB`,
        },
      ),
    );
  }
  const idleScaled = g.quick ? ' (--quick: fewer)' : '';
  rows.push(idleRow(`waiters on one held slot${idleScaled}`, g.waiters));
  rows.push(idleRow(`SSE observers of one election${idleScaled}`, g.observers));
  const r = g.replicas;
  if (r !== undefined) {
    const one = r.one.loop;
    rows.push(
      row('one replica, session cycles, 64 clients', '64', {
        rate: one.opsPerS,
        p50: one.latency.p50,
        p95: one.latency.p95,
        p99: one.latency.p99,
        vsFloor: '1×',
        notes: usageNotes(r.one.usage, one.ops, 'cycle'),
      }),
    );
    const [a, b] = r.two;
    rows.push(
      row('two replicas on one etcd, 32 + 32 clients (aggregate)', '64', {
        rate: r.twoRate,
        p50: Math.max(a.loop.latency.p50, b.loop.latency.p50),
        vsFloor: `${x(r.twoRate / one.opsPerS)} rate vs one`,
        notes: join(
          `per replica ${fmt(a.loop.opsPerS)}/s + ${fmt(b.loop.opsPerS)}/s (p50 = the slower replica's)`,
          `limit: ${r.limit}`,
        ),
      }),
    );
  }
  return rows;
}
