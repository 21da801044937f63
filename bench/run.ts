/**
 * `npm run bench`: starts its own etcd, redis-server and slotlock service (a child process) on
 * loopback, measures the floor, slotlock, a naive REST floor and the peers in ONE run, prints ONE
 * table and the target verdicts, and writes the results as JSON under bench/results/.
 *
 * Flags: --quick (short smoke run), --profile (also profile the service under load with
 * --cpu-prof and summarise its hot path), --only=floor,slotlock,... (run only these groups:
 * idle, floor, slotlock, naive, peers, ceiling, contended, bundles, elections, resources, growth,
 * profile), --keep (keep
 * the temp dir with the child processes' logs).
 *
 * With `peers` or `contended`, etcd's Go concurrency.Mutex (bench/go-mutex) is built before anything
 * starts (installing Go and etcd's Go sources from Debian when missing) and measured right after the
 * uncontended levels and right after the contended group; without Go its rows are skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderProfile } from './cpu-profile.js';
import type { Phase } from './load.js';
import { startCeiling } from './express-ceiling.js';
import { startNaive } from './naive-rest.js';
import { goMutexContended, prepareGoPeer, runGoMutex, type GoPeer } from './peers-go-mutex.js';
import {
  ensureRedis,
  liveChildren,
  repoRoot,
  startEtcd,
  startRedis,
  startService,
  type Child,
} from './procs.js';
import { buildRows, renderTable, renderTargets, type Results } from './report.js';
import { brief, GROUP_NAMES, runGroups, type Context, type GroupName } from './scenarios.js';
import { buildTargets } from './targets.js';
import { UsageProbe } from './usage.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const keep = args.includes('--keep');
const onlyArg = args.find(a => a.startsWith('--only='))?.slice('--only='.length);
const allGroups: readonly GroupName[] = GROUP_NAMES;
const selected = new Set<GroupName>(
  onlyArg === undefined
    ? allGroups.filter(g => g !== 'profile' || args.includes('--profile'))
    : onlyArg.split(',').filter((g): g is GroupName => (allGroups as string[]).includes(g)),
);

const t0 = performance.now();
const log = (msg: string) => {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
};
const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const results: Results = {
  quick,
  floor: { session: {}, 'per-grant': {} },
  slotlock: { session: {}, 'per-grant': {} },
  naive: {},
  ceiling: {},
  etcd3Lock: {},
  redlock: {},
  goMutex: {},
  contended: {},
  elections: { failover: [] },
  resources: {},
  errors: [],
};
const phase: Phase = quick
  ? { durationMs: 1000, warmupMs: 200, maxOps: 50_000, rounds: 2 }
  : { durationMs: 3000, warmupMs: 500, maxOps: 200_000, rounds: 3 };
const contendedPhase: Phase = quick
  ? { durationMs: 1500, warmupMs: 0, maxOps: 50_000, rounds: 1 }
  : { durationMs: 5000, warmupMs: 0, maxOps: 200_000, rounds: 1 };

/** etcd's Go Mutex at concurrency 1 and 64 on distinct keys, one session each (the peers' levels). */
async function runGoUncontended(ctx: Context, peer: GoPeer): Promise<void> {
  for (const c of [1, 64]) {
    let probe: UsageProbe | undefined;
    try {
      const result = await runGoMutex(peer, {
        etcdUrl: ctx.etcd.url,
        mode: 'uncontended',
        concurrency: c,
        phase: ctx.phase,
        prefix: `bench/gomutex/${ctx.tag}`,
        logFile: join(ctx.dir, 'go-mutex.log'),
        probe: pid => (probe = new UsageProbe({ etcdPid: ctx.etcd.pid, serverPid: pid })),
      });
      ctx.results.goMutex[`c${c}`] = { result, usage: probe?.usage };
      ctx.log(`Go Mutex c${c}: ${brief(result)}`);
    } catch (err) {
      const msg = `Go Mutex c${c}: ${err instanceof Error ? err.message : String(err)}`;
      ctx.log(`FAILED ${msg}`);
      ctx.results.errors.push(msg);
    }
  }
}

/** etcd's Go Mutex with 64 and with 8 clients on one key (as slotlock's contended rows). */
async function runGoContended(ctx: Context, peer: GoPeer): Promise<void> {
  for (const clients of [64, 8] as const) {
    let probe: UsageProbe | undefined;
    try {
      const result = await goMutexContended(peer, {
        etcdUrl: ctx.etcd.url,
        clients,
        phase: ctx.contendedPhase,
        prefix: `bench/gomutex/${ctx.tag}/c${clients}`,
        logFile: join(ctx.dir, 'go-mutex.log'),
        probe: pid => (probe = new UsageProbe({ etcdPid: ctx.etcd.pid, serverPid: pid })),
      });
      ctx.results.contended[`goMutex${clients}`] = { result, usage: probe?.usage };
      ctx.log(`Go Mutex contended ${clients}: ${brief(result.loop)}`);
    } catch (err) {
      const msg = `Go Mutex contended ${clients}: ${err instanceof Error ? err.message : String(err)}`;
      ctx.log(`FAILED ${msg}`);
      ctx.results.errors.push(msg);
    }
  }
}

const dir = await mkdtemp(join(tmpdir(), 'slotlock-bench-'));
const children: Child[] = [];
const load0 = loadavg();
let stopEtcd: (() => Promise<void>) | undefined;
let redisNote = 'not started';
let goNote = 'not used';
try {
  log(`${quick ? 'quick' : 'full'} run of ${[...selected].join(', ')}; temp dir ${dir}`);
  // Built first, so a (cold, ~30 s) Go build does not overlap any measurement.
  let goPeer: GoPeer | undefined;
  if (selected.has('peers') || selected.has('contended')) {
    goPeer = await prepareGoPeer(dir, log).catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      log(`Go peer unavailable, its rows are skipped: ${reason}`);
      results.goMutexSkipped = reason.split('\n')[0];
      return undefined;
    });
    goNote = goPeer?.describe ?? `skipped: ${results.goMutexSkipped ?? '?'}`;
  }
  const etcd = await startEtcd(dir);
  stopEtcd = () => etcd.stop({ timeoutMs: 5000 });
  log(`etcd ${etcd.clientUrl} (pid ${etcd.pid})`);
  let redisPort: number | undefined;
  if (selected.has('peers') || selected.has('contended')) {
    const bin = await ensureRedis(log).catch((err: unknown) => {
      log(`redis unavailable, Redlock rows skipped: ${String(err)}`);
      return undefined;
    });
    if (bin !== undefined) {
      const redis = await startRedis(bin, dir);
      children.push(redis.child);
      redisPort = redis.port;
      redisNote = `${bin} on 127.0.0.1:${redis.port}`;
    }
  }
  const service = await startService({
    etcdUrl: etcd.clientUrl,
    dir,
    name: 'slotlock',
    prefix: 'slotlock/',
    env: { WAIT_MAX_MS: '60000' },
  });
  children.push(service);
  const naive = await startNaive(etcd.clientUrl, dir);
  children.push(naive);
  log(`slotlock ${service.url} (pid ${service.pid}); naive REST ${naive.url} (pid ${naive.pid})`);
  const ceiling = selected.has('ceiling') ? await startCeiling(dir) : undefined;
  if (ceiling !== undefined) {
    children.push(ceiling);
    log(`express ceiling ${ceiling.url} (pid ${ceiling.pid})`);
  }

  const ctx: Context = {
    quick,
    tag: `b${randomBytes(3).toString('hex')}`,
    dir,
    stamp,
    phase,
    contendedPhase,
    etcd: { url: etcd.clientUrl, pid: etcd.pid },
    serviceUrl: service.url,
    servicePid: service.pid,
    naiveUrl: naive.url,
    naivePid: naive.pid,
    ceiling: ceiling === undefined ? undefined : { url: ceiling.url, pid: ceiling.pid },
    redisPort,
    results,
    children,
    log,
  };
  const only = (...names: GroupName[]) => new Set(names.filter(g => selected.has(g)));
  await runGroups(ctx, only('idle', 'floor', 'slotlock', 'naive', 'peers', 'ceiling'));
  if (goPeer !== undefined && selected.has('peers')) await runGoUncontended(ctx, goPeer);
  await runGroups(ctx, only('contended', 'bundles'));
  if (goPeer !== undefined && selected.has('contended')) await runGoContended(ctx, goPeer);
  await runGroups(ctx, only('elections', 'resources', 'growth', 'profile'));
} finally {
  for (const child of children.reverse()) await child.stop({ graceMs: 5000 });
  await stopEtcd?.();
  if (keep) log(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}

const table = renderTable(buildRows(results));
const targets = buildTargets(results);
const durationS = (performance.now() - t0) / 1000;
const env = {
  startedAt: startedAt.toISOString(),
  durationS,
  node: process.version,
  cpus: cpus().length,
  loadavgStart: load0,
  loadavgEnd: loadavg(),
  redis: redisNote,
  goPeer: goNote,
  groups: [...selected],
};
const loads = (l: number[]) => l.map(v => v.toFixed(1)).join('/');
process.stdout.write(
  `\nslotlock bench (${quick ? 'quick' : 'full'}) ${env.startedAt}, ${env.cpus} cores, ` +
    `load avg ${loads(load0)} → ${loads(env.loadavgEnd)}, ${durationS.toFixed(0)} s\n\n` +
    `${table}\n\nTargets:\n${renderTargets(targets)}\n`,
);
if (results.profile !== undefined) {
  const { serial, uncontended, contended, rates } = results.profile;
  process.stdout.write(
    `\nProfile of the service, uncontended session cycles, 1 client (${rates.serial.toFixed(0)}/s under the profiler):\n${renderProfile(serial)}\n` +
      `\nProfile of the service, uncontended session cycles, 64 clients (${rates.uncontended.toFixed(0)}/s under the profiler):\n${renderProfile(uncontended)}\n` +
      `\nProfile of the service, contended handover, 64 waiters (${rates.contended.toFixed(0)}/s under the profiler):\n${renderProfile(contended)}\n`,
  );
}
if (results.errors.length > 0) process.stdout.write(`\nErrors:\n${results.errors.join('\n')}\n`);
const outDir = join(repoRoot, 'bench', 'results');
await mkdir(outDir, { recursive: true });
const outFile = join(outDir, `bench-${quick ? 'quick-' : ''}${stamp}.json`);
await writeFile(outFile, JSON.stringify({ env, results, targets, table }, null, 2));
process.stdout.write(`\nresults: ${outFile}\n`);
const left = liveChildren();
if (left.length > 0) process.stderr.write(`still running: ${left.join(', ')}\n`);
process.exitCode = results.errors.length > 0 ? 1 : 0;
