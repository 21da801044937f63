/**
 * A/B of two versions of the service on one etcd, interleaved, so both see the same background
 * load (this machine's load moves rates 2–3× between runs; a comparison across runs is noise).
 *
 *   npx tsx bench/ab.ts [--base=<git rev, default HEAD~1>] [--rounds=4] [--ms=1500]
 *                       [--head-env=NAME=value,...] [--base-env=NAME=value,...]
 *
 * `--head-env` sets environment variables of the head service only, e.g. `--base=HEAD
 * --head-env=RATE_LIMIT_REPLICA=0,RATE_LIMIT_PRINCIPAL=0` prices the rate limiters.
 *
 * Checks the base revision out into a temporary git worktree (sharing this checkout's
 * node_modules), starts both services as child processes on one etcd member, and measures in
 * alternating order per round: session cycles at concurrency 1 and 64, per-grant cycles at
 * concurrency 1, and 64 clients contending for one slot in wait mode. Prints per subject and
 * version: rate, p50 and the server's CPU per cycle or handover (from /proc), summed over the
 * rounds. Everything started is stopped by pid.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, type LoopResult } from './load.js';
import { procCpuSeconds, repoRoot, startEtcd, startService, type Service } from './procs.js';
import { contended, prepareUncontended } from './slotlock-http.js';

const arg = (name: string, fallback: string): string =>
  process.argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const base = arg('base', 'HEAD~1');
const rounds = Number(arg('rounds', '4'));
const ms = Number(arg('ms', '1500'));
const envArg = (name: string): Record<string, string> =>
  Object.fromEntries(
    arg(name, '')
      .split(',')
      .filter(kv => kv.includes('='))
      .map(kv => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
const headEnv = envArg('head-env');
/** Environment of the base service only, e.g. `--base-env=LEASE_POOL_SIZE=0`. */
const baseEnv = envArg('base-env');

const dir = mkdtempSync(join(tmpdir(), 'slotlock-ab-'));
const tree = join(dir, 'base');
const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, stdio: 'pipe' });
git('worktree', 'add', '--detach', tree, base);
symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'));
const baseRev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: tree }).toString();
const headRev = git('rev-parse', '--short', 'HEAD').toString();

interface Tally {
  ops: number;
  ms: number;
  cpuS: number;
  p50s: number[];
}
const tallies = new Map<string, Tally>();
function add(key: string, r: LoopResult, cpuS: number): void {
  const t = tallies.get(key) ?? { ops: 0, ms: 0, cpuS: 0, p50s: [] };
  t.ops += r.ops;
  t.ms += r.elapsedMs;
  t.cpuS += cpuS;
  t.p50s.push(r.latency.p50);
  tallies.set(key, t);
}

async function measure(svc: Service, key: string, run: () => Promise<LoopResult>): Promise<void> {
  const cpu0 = procCpuSeconds(svc.pid);
  const r = await run();
  add(key, r, procCpuSeconds(svc.pid) - cpu0);
  if (r.errors > 0) console.log(`  ${key}: ${r.errors} errors, first: ${r.firstError ?? ''}`);
}

const etcd = await startEtcd(dir);
const services: { version: string; svc: Service }[] = [];
try {
  services.push({
    version: `base ${baseRev.trim()}${Object.keys(baseEnv).length > 0 ? '+env' : ''}`,
    svc: await startService({
      etcdUrl: etcd.clientUrl,
      dir,
      name: 'base',
      prefix: 'ab-base/',
      cwd: tree,
      env: baseEnv,
    }),
  });
  services.push({
    version: `head ${headRev.trim()}${Object.keys(headEnv).length > 0 ? '+env' : ''}`,
    svc: await startService({
      etcdUrl: etcd.clientUrl,
      dir,
      name: 'head',
      prefix: 'ab-head/',
      env: headEnv,
    }),
  });
  const phase = { durationMs: ms, warmupMs: 300, maxOps: 1_000_000, rounds: 1 };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? services : [...services].reverse();
    for (const conc of [1, 64]) {
      for (const { version, svc } of order) {
        const runner = await prepareUncontended(svc.url, 'session', conc, `ab${round}`);
        try {
          await closedLoop({ concurrency: conc, durationMs: 300, maxOps: 1e6 }, runner.op);
          await measure(svc, `session c${conc}|${version}`, () =>
            closedLoop({ concurrency: conc, durationMs: ms, maxOps: 1e6 }, runner.op),
          );
        } finally {
          await runner.close();
        }
      }
    }
    // Per-grant c1: a lease of its own per cycle (LeaseGrant, acquire txn, release with revoke).
    for (const { version, svc } of order) {
      const runner = await prepareUncontended(svc.url, 'per-grant', 1, `ab${round}`);
      try {
        await closedLoop({ concurrency: 1, durationMs: 300, maxOps: 1e6 }, runner.op);
        await measure(svc, `per-grant c1|${version}`, () =>
          closedLoop({ concurrency: 1, durationMs: ms, maxOps: 1e6 }, runner.op),
        );
      } finally {
        await runner.close();
      }
    }
    for (const { version, svc } of order) {
      await measure(svc, `contended 64|${version}`, async () => {
        const r = await contended(svc.url, {
          clients: 64,
          capacity: 1,
          mode: 'session',
          phase,
          slot: `ab-contended-${round}`,
        });
        return r.loop;
      });
    }
  }
  console.log(
    `A/B, ${rounds} rounds of ${ms} ms, load average ${loadavg()
      .map(v => v.toFixed(2))
      .join(' ')}`,
  );
  for (const [key, t] of tallies) {
    const [subject, version] = key.split('|');
    const p50 = [...t.p50s].sort((a, b) => a - b)[Math.floor(t.p50s.length / 2)] ?? NaN;
    console.log(
      `${(subject ?? '').padEnd(14)} ${(version ?? '').padEnd(14)} ${(t.ops / (t.ms / 1000)).toFixed(0).padStart(6)}/s  p50 ${p50.toFixed(2).padStart(7)} ms  server CPU ${((t.cpuS * 1e6) / t.ops).toFixed(0).padStart(5)} µs/op`,
    );
  }
} finally {
  for (const { svc } of services) await svc.stop();
  await etcd.stop();
  git('worktree', 'remove', '--force', tree);
  rmSync(dir, { recursive: true, force: true });
}
