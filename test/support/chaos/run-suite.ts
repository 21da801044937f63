/**
 * Runs a chaos suite in a child runner process (inside a fresh network namespace when usable),
 * then loads each scenario's artifacts and runs the checkers on them. Every process the run
 * started is stopped by pid afterwards, whatever happened; the run directory is removed unless
 * something failed or CHAOS_KEEP=1.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anomalies, checkAll, type CheckResult } from './checkers.js';
import { createNetns, deleteNetns, netnsUsable } from './netns.js';
import { killLeftovers, registerPid } from './processes.js';
import { readJsonLines, type EventRecord, type FaultRecord, type OpRecord } from './records.js';
import { statsOf, type ScenarioStats } from './report.js';
import type { ScenarioMeta } from './runner.js';
import type { ScenarioSpec, SuiteSpec, UnsafeMode } from './scenarios.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const runnerMain = fileURLToPath(new URL('./runner-main.ts', import.meta.url));

export interface ScenarioReport {
  spec: ScenarioSpec;
  meta: ScenarioMeta;
  faults: FaultRecord[];
  ops: OpRecord[];
  events: EventRecord[];
  results: CheckResult[];
  stats: ScenarioStats;
}

export interface SuiteReport {
  isolation: 'nft' | 'peer-proxy';
  runDir: string;
  scenarios: ScenarioReport[];
  durationMs: number;
}

export interface SuiteOptions {
  scenarios: ScenarioSpec[];
  unsafeMode?: UnsafeMode | undefined;
  /** Upper bound for the whole runner process. */
  timeoutMs: number;
  heartbeatMs?: number;
  electionMs?: number;
  /** Keep the artifacts when a checker finds something (default true; negative controls expect it). */
  keepOnAnomaly?: boolean;
}

export async function runChaosSuite(opts: SuiteOptions): Promise<SuiteReport> {
  const started = performance.now();
  const runDir = await mkdtemp(join(tmpdir(), 'slotlock-chaos-'));
  const netns = process.env.CHAOS_NETNS !== '0' && (await netnsUsable());
  const spec: SuiteSpec = {
    runDir,
    netns,
    unsafeMode: opts.unsafeMode,
    heartbeatMs: opts.heartbeatMs ?? 100,
    electionMs: opts.electionMs ?? 1000,
    scenarios: opts.scenarios,
  };
  const specFile = join(runDir, 'suite.json');
  writeFileSync(specFile, JSON.stringify(spec, null, 2));
  const ns = `slchaos-${process.pid}-${randomBytes(3).toString('hex')}`;
  let keep = process.env.CHAOS_KEEP === '1';
  try {
    if (netns) await createNetns(ns);
    try {
      await runRunner(runDir, netns ? ns : undefined, specFile, opts.timeoutMs);
    } finally {
      killLeftovers(runDir);
    }
    const scenarios = opts.scenarios.map(s => load(runDir, s));
    if ((opts.keepOnAnomaly ?? true) && scenarios.some(r => anomalies(r.results) > 0)) keep = true;
    return {
      isolation: netns ? 'nft' : 'peer-proxy',
      runDir,
      scenarios,
      durationMs: performance.now() - started,
    };
  } catch (err) {
    keep = true;
    throw err;
  } finally {
    if (netns) await deleteNetns(ns).catch(() => undefined);
    if (keep) console.log(`chaos artifacts kept in ${runDir}`);
    else await rm(runDir, { recursive: true, force: true });
  }
}

async function runRunner(
  runDir: string,
  ns: string | undefined,
  specFile: string,
  timeoutMs: number,
): Promise<void> {
  const node = [process.execPath, '--import', 'tsx', runnerMain, specFile];
  const [cmd = '', ...args] = ns === undefined ? node : ['ip', 'netns', 'exec', ns, ...node];
  const child = spawn(cmd, args, {
    cwd: repoRoot,
    env: { ...process.env, CHAOS_RUN_DIR: runDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) registerPid(runDir, child.pid);
  const out = createWriteStream(join(runDir, 'runner.log'));
  let stderr = '';
  child.stdout.pipe(out);
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    out.write(d);
  });
  if (process.env.CHAOS_VERBOSE === '1') child.stdout.pipe(process.stdout);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `chaos runner exited with ${code ?? 'a signal (timeout?)'}; see ${runDir}/runner.log\n${stderr.slice(-3000)}`,
    );
  }
}

function load(runDir: string, spec: ScenarioSpec): ScenarioReport {
  const dir = join(runDir, spec.id);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as ScenarioMeta;
  const ops = readJsonLines<OpRecord>(join(dir, 'history.jsonl'));
  const events = readJsonLines<EventRecord>(join(dir, 'events.jsonl'));
  const faults = readJsonLines<FaultRecord>(join(dir, 'faults.jsonl'));
  const results = checkAll({ ops, events, layout: meta.layout });
  return { spec, meta, faults, ops, events, results, stats: statsOf(ops, faults) };
}
