/**
 * The `growth` group (`--only=growth`): how cost grows with what the service carries.
 *
 * - Handover on one slot with 8, 64, 512 and 2,048 waiters: every client of the contended loop
 *   re-queues at once, so the queue stays that long; time per handover = measured time / handovers.
 * - Acquire p50 on an empty etcd against the same etcd filled with idle slots and fenced records
 *   (bench/growth-fill.ts).
 * - RSS and CPU per 1,000 idle waiters and per 1,000 idle SSE observers (bench/growth-idle.ts).
 * - Two replicas sharing one etcd against one, concurrency 64 in total (bench/growth-replicas.ts).
 *
 * A failed part is recorded in the run's errors and the others go on. --quick scales the fill and
 * the idle counts down (the rows say so).
 */
import type { Measured } from './report.js';
import type { Context } from './scenarios.js';
import { brief } from './scenarios.js';
import { contended, type ContendedResult } from './slotlock-http.js';
import { fillComparison, type FillResult } from './growth-fill.js';
import { idleObservers, idleWaiters, type IdleCost } from './growth-idle.js';
import { replicasComparison, type ReplicasResult } from './growth-replicas.js';
import { UsageProbe } from './usage.js';

/** Queue lengths of the handover rows (the same in --quick: the phase is short there). */
export const WAITER_COUNTS = [8, 64, 512, 2048] as const;

/** One handover row: `waiters` clients contending for one slot. */
export interface WaitersHandover {
  waiters: number;
  m: Measured<ContendedResult>;
}

/** Everything the growth group measured; a missing part failed (see the run's errors). */
export interface GrowthResults {
  quick: boolean;
  handover: WaitersHandover[];
  fill?: FillResult | undefined;
  waiters?: IdleCost | undefined;
  observers?: IdleCost | undefined;
  replicas?: ReplicasResult | undefined;
}

/** Time per handover in ms (measured time over handovers). */
export function handoverMs(h: WaitersHandover): number {
  const loop = h.m.result.loop;
  return loop.ops > 0 ? loop.elapsedMs / loop.ops : Number.NaN;
}

async function part<T>(ctx: Context, name: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await f();
    ctx.log(`growth: ${name}: done`);
    return value;
  } catch (err) {
    const msg = `growth: ${name}: ${err instanceof Error ? err.message : String(err)}`;
    ctx.log(`FAILED ${msg}`);
    ctx.results.errors.push(msg);
    return undefined;
  }
}

/** Handover with each queue length, session mode, on a fresh slot per length. */
async function handoverByWaiters(ctx: Context): Promise<WaitersHandover[]> {
  const rows: WaitersHandover[] = [];
  for (const waiters of WAITER_COUNTS) {
    const m = await part(ctx, `handover with ${waiters} waiters`, async () => {
      const probe = new UsageProbe({
        etcdPid: ctx.etcd.pid,
        serverPid: ctx.servicePid,
        metricsUrl: ctx.serviceUrl,
      });
      const result = await contended(
        ctx.serviceUrl,
        {
          clients: waiters,
          capacity: 1,
          mode: 'session',
          // A short warm-up: every client connects and is granted once before the window.
          phase: { ...ctx.contendedPhase, warmupMs: ctx.quick ? 300 : 1000 },
          slot: `${ctx.tag}-grow-${waiters}`,
          // A waiter at the back waits for the whole queue: `waiters` handovers.
          waitMs: 55_000,
          // Clients share 64 sessions (as dispatchers of one process would): 2,048 lease grants
          // at once only measure etcd's lease_grant under a burst.
          sessions: 64,
          // 2,048 acquires in the same millisecond trip the service's etcd breaker on a loaded
          // machine: each loop's first acquires arrive over `waiters` ms (the queue still forms).
          rampMs: waiters,
        },
        probe,
      );
      return { result, usage: probe.usage };
    });
    if (m === undefined) continue;
    const row = { waiters, m };
    rows.push(row);
    const first = m.result.loop.firstError;
    ctx.log(
      `  ${waiters} waiters: ${handoverMs(row).toFixed(2)} ms/handover; ${brief(m.result.loop)}` +
        (first === undefined ? '' : `; first error: ${first.slice(0, 400)}`),
    );
  }
  return rows;
}

/** Runs every part of the group and stores it in `ctx.results.growth`. */
export async function runGrowth(ctx: Context): Promise<void> {
  const g: GrowthResults = { quick: ctx.quick, handover: [] };
  ctx.results.growth = g;
  g.handover = await handoverByWaiters(ctx);
  await settle(ctx);
  g.waiters = await part(ctx, 'idle waiters', () => idleWaiters(ctx));
  g.observers = await part(ctx, 'idle SSE observers', () => idleObservers(ctx));
  g.replicas = await part(ctx, 'two replicas vs one', () => replicasComparison(ctx));
  g.fill = await part(ctx, 'filled etcd vs empty', () => fillComparison(ctx));
}

/**
 * Waits (at most 30 s) until the service creates a session again: a queue row that overloaded
 * etcd (2,048 joins, each an O(queue) read) can leave the service's etcd breaker open, and the
 * rows after it would then measure that instead of what they are about.
 */
async function settle(ctx: Context): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < 30_000) {
    const res = await fetch(`${ctx.serviceUrl}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds: 5 }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
    if (res?.status === 201) {
      const body = (await res.json()) as { id: string; session: string };
      await fetch(`${ctx.serviceUrl}/v1/sessions/${body.id}`, {
        method: 'DELETE',
        headers: { 'slotlock-secret': body.session },
      }).catch(() => undefined);
      const waitedMs = performance.now() - started;
      if (waitedMs > 100)
        ctx.log(`growth: the service took sessions again after ${waitedMs.toFixed(0)} ms`);
      return;
    }
    await res?.body?.cancel();
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  ctx.log('growth: the service still refused sessions after 30 s');
}
