/**
 * The groups of one run, each a function over the running processes: floor, slotlock, naive,
 * peers, contended, elections, resources, profile. run.ts picks which ones run (`--only`).
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { monotonicUs, renderProfile, summarizeProfile, type ProfileWindow } from './cpu-profile.js';
import { failoverAfterKill, handoverAfterResign } from './elections.js';
import { floorCycles, type LeaseMode } from './floor.js';
import type { LoopResult, Phase } from './load.js';
import { naiveCycles } from './naive-rest.js';
import {
  etcd3LockContended,
  etcd3LockCycles,
  type RetryContendedResult,
} from './peers-etcd3-lock.js';
import { redlockContended, redlockCycles } from './peers-redlock.js';
import { repoRoot, startService, type Child } from './procs.js';
import type { Measured, Results } from './report.js';
import { currentRssMb, heldAndWaiting, idle } from './resources.js';
import { contended, uncontended } from './slotlock-http.js';
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

/** A loop scenario with a usage probe around its measured part; logs a one-line result. */
type Server = 'slotlock' | 'naive' | 'none';

function probeFor(ctx: Context, server: Server): UsageProbe {
  return new UsageProbe({
    etcdPid: ctx.etcd.pid,
    serverPid:
      server === 'slotlock' ? ctx.servicePid : server === 'naive' ? ctx.naivePid : undefined,
    metricsUrl: server === 'slotlock' ? ctx.serviceUrl : undefined,
  });
}

async function loop(
  ctx: Context,
  name: string,
  server: Server,
  f: (probe: UsageProbe) => Promise<LoopResult>,
): Promise<Measured<LoopResult> | undefined> {
  const m = await step(ctx, name, async () => {
    const probe = probeFor(ctx, server);
    return { result: await f(probe), usage: probe.usage };
  });
  if (m !== undefined) ctx.log(`  ${brief(m.result)}`);
  return m;
}

/** The subjects of the uncontended comparison (each can be picked with --only). */
export type Subject = 'floor' | 'slotlock' | 'naive' | 'peers';

/**
 * Uncontended cycles on distinct keys, level by level: at each concurrency every subject runs
 * back to back, so the rows a target compares were measured minutes apart at most, under the same
 * background load of this shared machine.
 */
export async function runUncontended(ctx: Context, subjects: ReadonlySet<Subject>): Promise<void> {
  const r = ctx.results;
  for (const c of CONCURRENCIES) {
    const key = `c${c}`;
    for (const mode of MODES) {
      if (subjects.has('floor')) {
        r.floor[mode][key] = await loop(ctx, `floor ${mode} c${c}`, 'none', p =>
          floorCycles(ctx.etcd.url, mode, c, ctx.phase, p),
        );
      }
      if (subjects.has('slotlock')) {
        r.slotlock[mode][key] = await loop(ctx, `slotlock ${mode} c${c}`, 'slotlock', p =>
          uncontended(ctx.serviceUrl, mode, c, ctx.phase, ctx.tag, p),
        );
      }
    }
    if (c === 8) continue; // the naive server and the peers are compared at 1 and 64
    if (subjects.has('naive')) {
      r.naive[key] = await loop(ctx, `naive REST c${c}`, 'naive', p =>
        naiveCycles(ctx.naiveUrl, c, ctx.phase, ctx.tag, p),
      );
    }
    if (!subjects.has('peers')) continue;
    r.etcd3Lock[key] = await loop(ctx, `etcd3 Lock c${c}`, 'none', p =>
      etcd3LockCycles(ctx.etcd.url, c, ctx.phase, ctx.tag, p),
    );
    const port = ctx.redisPort;
    if (port === undefined) continue;
    r.redlock[key] = await loop(ctx, `redlock c${c}`, 'none', p =>
      redlockCycles(port, c, ctx.phase, ctx.tag, p),
    );
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

export async function runElections(ctx: Context): Promise<void> {
  ctx.results.elections.resign = await step(ctx, 'handover after resign', () =>
    handoverAfterResign(ctx.serviceUrl, { iterations: ctx.quick ? 8 : 30, tag: ctx.tag }),
  );
  ctx.results.elections.failover = await step(ctx, 'failover after SIGKILL', () =>
    failoverAfterKill(ctx.serviceUrl, {
      iterations: ctx.quick ? 1 : 4,
      ttlS: 2,
      dir: ctx.dir,
      tag: ctx.tag,
    }),
  );
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

/**
 * A second service under `--cpu-prof` (own key prefix, same etcd) takes uncontended session
 * cycles at concurrency 64; it is stopped with SIGTERM so V8 writes the profile, then summarised.
 */
export async function runProfile(ctx: Context): Promise<void> {
  ctx.results.profile = await step(ctx, 'profile (session, 64 clients, --cpu-prof)', async () => {
    const profDir = join(repoRoot, 'bench', 'results', `profile-${ctx.stamp}`);
    await mkdir(profDir, { recursive: true });
    const profiled = await startService({
      etcdUrl: ctx.etcd.url,
      dir: ctx.dir,
      name: 'slotlock-profiled',
      prefix: 'slotprof/',
      cpuProfDir: profDir,
    });
    ctx.children.push(profiled);
    const window: ProfileWindow = { fromUs: 0, toUs: 0 };
    const marks = {
      start: () => {
        window.fromUs = monotonicUs();
        return Promise.resolve();
      },
      end: () => {
        window.toUs = monotonicUs();
        return Promise.resolve();
      },
    };
    try {
      const phase = { ...ctx.phase, durationMs: ctx.quick ? 2000 : 8000 };
      const r = await uncontended(profiled.url, 'session', 64, phase, `${ctx.tag}-prof`, marks);
      ctx.log(`  profiled service: ${brief(r)}`);
    } finally {
      await profiled.stop({ graceMs: 15_000 });
    }
    // One file per thread (tsx adds a loader thread): the main thread is thread id 0.
    const file = (await readdir(profDir)).find(f => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (file === undefined) throw new Error(`no .cpuprofile written in ${profDir}`);
    const summary = await summarizeProfile(join(profDir, file), 25, window);
    ctx.log(renderProfile(summary));
    return summary;
  });
}

/** The groups a run can be limited to with --only, in the order a full run takes them. */
export const GROUP_NAMES = [
  'idle',
  'floor',
  'slotlock',
  'naive',
  'peers',
  'contended',
  'elections',
  'resources',
  'profile',
] as const;

export type GroupName = (typeof GROUP_NAMES)[number];

/** Runs the selected groups; the four uncontended subjects run together, level by level. */
export async function runGroups(ctx: Context, selected: ReadonlySet<GroupName>): Promise<void> {
  const subjects = new Set<Subject>(
    (['floor', 'slotlock', 'naive', 'peers'] as const).filter(s => selected.has(s)),
  );
  if (selected.has('idle')) await runIdle(ctx);
  if (subjects.size > 0) await runUncontended(ctx, subjects);
  if (selected.has('contended')) await runContended(ctx);
  if (selected.has('elections')) await runElections(ctx);
  if (selected.has('resources')) await runResources(ctx);
  if (selected.has('profile')) await runProfile(ctx);
}
