/**
 * The groups of one run, each a function over the running processes: floor, slotlock, naive,
 * peers, ceiling, contended, bundles, elections, resources, growth, profile. run.ts picks which ones run (`--only`).
 */
import { failoverAfterKill, handoverAfterResign } from './elections.js';
import { prepareFloor, type LeaseMode } from './floor.js';
import { interleaved, type Contender, type LoopResult, type Phase, type Runner } from './load.js';
import { prepareNaive } from './naive-rest.js';
import {
  etcd3LockContended,
  prepareEtcd3Lock,
  type RetryContendedResult,
} from './peers-etcd3-lock.js';
import { prepareRedlock, redlockContended } from './peers-redlock.js';
import type { Child } from './procs.js';
import { profileService } from './profile-service.js';
import type { Measured, Results } from './report.js';
import { currentRssMb, heldAndWaiting, idle } from './resources.js';
import { bundlesContended } from './bundles.js';
import { prepareCeiling } from './express-ceiling.js';
import { runGrowth } from './growth.js';
import { contended, prepareUncontended } from './slotlock-http.js';
import { UsageProbe } from './usage.js';

/** What every group gets: the processes, the phase lengths and the shared results. */
export interface Context {
  quick: boolean;
  tag: string;
  dir: string;
  stamp: string;
  phase: Phase;
  contendedPhase: Phase;
  etcd: { url: string; pid: number };
  serviceUrl: string;
  servicePid: number;
  naiveUrl: string;
  naivePid: number;
  /** The bare express ceiling (bench/express-ceiling.ts), when the `ceiling` group runs. */
  ceiling?: { url: string; pid: number } | undefined;
  redisPort: number | undefined;
  results: Results;
  children: Child[];
  log: (msg: string) => void;
}

const CONCURRENCIES = [1, 8, 64] as const;
const MODES: LeaseMode[] = ['session', 'per-grant'];

export function brief(r: LoopResult): string {
  const errors = r.errors > 0 ? ` errors ${r.errors}` : '';
  return `${r.opsPerS.toFixed(0)}/s p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms${errors}`;
}

/** Runs one scenario; a failure is recorded and the run goes on. */
async function step<T>(ctx: Context, name: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await f();
    ctx.log(`${name}: done`);
    return value;
  } catch (err) {
    const msg = `${name}: ${err instanceof Error ? err.message : String(err)}`;
    ctx.log(`FAILED ${msg}`);
    ctx.results.errors.push(msg);
    return undefined;
  }
}

/** Whose CPU (and, for slotlock, /metrics) a probe watches besides etcd's. */
type Server = 'slotlock' | 'naive' | 'ceiling' | 'none';

function probeFor(ctx: Context, server: Server): UsageProbe {
  return new UsageProbe({
    etcdPid: ctx.etcd.pid,
    serverPid:
      server === 'slotlock'
        ? ctx.servicePid
        : server === 'naive'
          ? ctx.naivePid
          : server === 'ceiling'
            ? ctx.ceiling?.pid
            : undefined,
    metricsUrl: server === 'slotlock' ? ctx.serviceUrl : undefined,
  });
}

/** The subjects of the uncontended comparison (each can be picked with --only). */
export type Subject = 'floor' | 'slotlock' | 'naive' | 'peers' | 'ceiling';

/**
 * Uncontended cycles on distinct keys, level by level. At each concurrency every subject is
 * prepared, warmed up, then measured in interleaved rounds (order alternating), so the rows a
 * target compares were measured under the same background load of this shared machine.
 */
export async function runUncontended(ctx: Context, subjects: ReadonlySet<Subject>): Promise<void> {
  const r = ctx.results;
  for (const c of CONCURRENCIES) {
    const key = `c${c}`;
    const entries: (Contender & { store: (m: Measured<LoopResult>) => void })[] = [];
    const add = (
      name: string,
      server: Server,
      prepare: () => Promise<Runner>,
      store: (m: Measured<LoopResult>) => void,
    ) => {
      entries.push({ name, prepare, probe: probeFor(ctx, server), store });
    };
    for (const mode of MODES) {
      if (subjects.has('floor')) {
        add(
          `floor ${mode}`,
          'none',
          () => prepareFloor(ctx.etcd.url, mode, c, ctx.tag),
          m => {
            r.floor[mode][key] = m;
          },
        );
      }
      if (subjects.has('slotlock')) {
        add(
          `slotlock ${mode}`,
          'slotlock',
          () => prepareUncontended(ctx.serviceUrl, mode, c, ctx.tag),
          m => {
            r.slotlock[mode][key] = m;
          },
        );
      }
    }
    // The naive server and the peers are compared at concurrency 1 and 64 only.
    if (c !== 8 && subjects.has('naive')) {
      add(
        'naive REST',
        'naive',
        () => prepareNaive(ctx.naiveUrl, c, ctx.tag),
        m => {
          r.naive[key] = m;
        },
      );
    }
    // The bare express ceiling is measured at concurrency 64 only, in the same rounds.
    const ceiling = ctx.ceiling;
    if (c === 64 && subjects.has('ceiling') && ceiling !== undefined) {
      add(
        'express ceiling',
        'ceiling',
        () => prepareCeiling(ceiling.url, c),
        m => {
          r.ceiling[key] = m;
        },
      );
    }
    if (c !== 8 && subjects.has('peers')) {
      add(
        'etcd3 Lock',
        'none',
        () => prepareEtcd3Lock(ctx.etcd.url, c, ctx.tag),
        m => {
          r.etcd3Lock[key] = m;
        },
      );
      const port = ctx.redisPort;
      if (port !== undefined) {
        add(
          'redlock',
          'none',
          () => prepareRedlock(port, c, ctx.tag),
          m => {
            r.redlock[key] = m;
          },
        );
      }
    }
    const level = await step(ctx, `uncontended, concurrency ${c}, ${entries.length} subjects`, () =>
      interleaved(entries, c, ctx.phase),
    );
    if (level === undefined) continue;
    for (const e of entries) {
      const result = level.results.get(e.name);
      const failure = level.failed.get(e.name);
      if (failure !== undefined) {
        ctx.results.errors.push(`${e.name} c${c}: ${failure}`);
        ctx.log(`  FAILED ${e.name} c${c}: ${failure}`);
      }
      if (result === undefined) continue;
      e.store({ result, usage: e.probe instanceof UsageProbe ? e.probe.usage : undefined });
      ctx.log(`  ${e.name} c${c}: ${brief(result)}`);
    }
  }
}

export async function runContended(ctx: Context): Promise<void> {
  const c = ctx.results.contended;
  const slotlock = async (clients: number, capacity: number, mode: LeaseMode, slot: string) => {
    const m = await step(
      ctx,
      `contended ${mode} ${clients} clients capacity ${capacity}`,
      async () => {
        const probe = probeFor(ctx, 'slotlock');
        const o = {
          clients,
          capacity,
          mode,
          phase: ctx.contendedPhase,
          slot: `${ctx.tag}-${slot}`,
        };
        return { result: await contended(ctx.serviceUrl, o, probe), usage: probe.usage };
      },
    );
    if (m !== undefined) ctx.log(`  ${brief(m.result.loop)}`);
    return m;
  };
  const retried = async (name: string, f: (p: UsageProbe) => Promise<RetryContendedResult>) => {
    const m: Measured<RetryContendedResult> | undefined = await step(ctx, name, async () => {
      const probe = probeFor(ctx, 'none');
      return { result: await f(probe), usage: probe.usage };
    });
    if (m !== undefined) {
      ctx.log(`  ${brief(m.result.loop)}, ${m.result.attemptsPerGrant.toFixed(1)} attempts/grant`);
    }
    return m;
  };
  c.session64 = await slotlock(64, 1, 'session', 'c64');
  c.session8 = await slotlock(8, 1, 'session', 'c8');
  c.perGrant64 = await slotlock(64, 1, 'per-grant', 'g64');
  c.capacity8 = await slotlock(64, 8, 'session', 'n8');
  c.etcd3Lock64 = await retried('etcd3 Lock contended 64', p =>
    etcd3LockContended(ctx.etcd.url, 64, ctx.contendedPhase, `${ctx.tag}-c64`, p),
  );
  const port = ctx.redisPort;
  if (port !== undefined) {
    c.redlock64 = await retried('redlock contended 64', p =>
      redlockContended(port, 64, ctx.contendedPhase, `${ctx.tag}-c64`, p),
    );
  }
}

/** Bundles of a driver and a vehicle vs the same two slots taken one by one (bench/bundles.ts). */
export async function runBundles(ctx: Context): Promise<void> {
  const o = { clients: 64, drivers: 8, vehicles: 8, phase: ctx.contendedPhase, tag: ctx.tag };
  const measure = (way: 'bundle' | 'ordered') =>
    step(ctx, `bundles: ${way}, 64 clients`, async () => {
      const probe = probeFor(ctx, 'slotlock');
      return { result: await bundlesContended(ctx.serviceUrl, way, o, probe), usage: probe.usage };
    });
  const bundle64 = await measure('bundle');
  if (bundle64 !== undefined) ctx.log(`  ${brief(bundle64.result)}`);
  const ordered64 = await measure('ordered');
  if (ordered64 !== undefined) ctx.log(`  ${brief(ordered64.result)}`);
  ctx.results.bundles = { bundle64, ordered64 };
}

export async function runElections(ctx: Context): Promise<void> {
  ctx.results.elections.resign = await step(ctx, 'handover after resign', () =>
    handoverAfterResign(ctx.serviceUrl, { iterations: ctx.quick ? 8 : 30, tag: ctx.tag }),
  );
  // The issue asks for p50 over at least 10 kills, at TTL 2 s and 5 s.
  for (const ttlS of ctx.quick ? [2] : [2, 5]) {
    const fo = await step(ctx, `failover after SIGKILL (TTL ${ttlS} s)`, () =>
      failoverAfterKill(ctx.serviceUrl, {
        iterations: ctx.quick ? 1 : 10,
        ttlS,
        dir: ctx.dir,
        tag: `${ctx.tag}-ttl${ttlS}`,
      }),
    );
    if (fo !== undefined) ctx.results.elections.failover.push(fo);
  }
}

export async function runIdle(ctx: Context): Promise<void> {
  ctx.results.resources.idle = await step(ctx, 'idle', () =>
    idle(ctx.serviceUrl, ctx.quick ? 1000 : 2000),
  );
}

export async function runResources(ctx: Context): Promise<void> {
  ctx.results.resources.held = await step(ctx, 'held grants + waiters', () =>
    heldAndWaiting(ctx.serviceUrl, {
      grants: ctx.quick ? 1000 : 10_000,
      waiters: ctx.quick ? 100 : 1000,
      tag: ctx.tag,
      sampleMs: ctx.quick ? 1000 : 2000,
    }),
  );
  ctx.results.resources.rssAfterHeldMb = await step(ctx, 'rss after', () =>
    currentRssMb(ctx.serviceUrl),
  );
}

/** Profiles a second service child under load (see profile-service.ts) and prints the summaries. */
export async function runProfile(ctx: Context): Promise<void> {
  ctx.results.profile = await step(ctx, 'profile (--cpu-prof, 64 clients)', async () => {
    const profiles = await profileService({
      etcdUrl: ctx.etcd.url,
      dir: ctx.dir,
      stamp: ctx.stamp,
      tag: ctx.tag,
      phase: { ...ctx.phase, durationMs: ctx.quick ? 2000 : 8000 },
      contendedPhase: { ...ctx.contendedPhase, durationMs: ctx.quick ? 2000 : 6000 },
      children: ctx.children,
    });
    ctx.log(
      `  profiled: ${profiles.rates.uncontended.toFixed(0)} cycles/s, ${profiles.rates.contended.toFixed(0)} handovers/s`,
    );
    return profiles;
  });
}

/** The groups a run can be limited to with --only, in the order a full run takes them. */
export const GROUP_NAMES = [
  'idle',
  'floor',
  'slotlock',
  'naive',
  'peers',
  'ceiling',
  'contended',
  'bundles',
  'elections',
  'resources',
  'growth',
  'profile',
] as const;

export type GroupName = (typeof GROUP_NAMES)[number];

/** Runs the selected groups; the uncontended subjects run together, level by level. */
export async function runGroups(ctx: Context, selected: ReadonlySet<GroupName>): Promise<void> {
  const subjects = new Set<Subject>(
    (['floor', 'slotlock', 'naive', 'peers', 'ceiling'] as const).filter(s => selected.has(s)),
  );
  if (selected.has('idle')) await runIdle(ctx);
  if (subjects.size > 0) await runUncontended(ctx, subjects);
  if (selected.has('contended')) await runContended(ctx);
  if (selected.has('bundles')) await runBundles(ctx);
  if (selected.has('elections')) await runElections(ctx);
  if (selected.has('resources')) await runResources(ctx);
  if (selected.has('growth')) await runGrowth(ctx);
  if (selected.has('profile')) await runProfile(ctx);
}
