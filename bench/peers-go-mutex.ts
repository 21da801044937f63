/**
 * Peer: etcd's own client-side lock, `go.etcd.io/etcd/clientv3/concurrency.Mutex`, in-process in
 * a small Go program (bench/go-mutex/main.go) with one gRPC connection and one Session (lease) per
 * worker. A Lock is one txn (put-if-absent on the session lease + read the oldest key of the
 * prefix) and, when another key is older, a watch until it is deleted; Unlock is one delete. So an
 * uncontended cycle costs the same 2 RPCs as the session floor, without HTTP, JS or a server hop.
 *
 * It is built offline from Debian's packages (scripts/install-go-peer.sh: golang-go and
 * golang-etcd-server-dev, sources under /usr/share/gocode/src) in GOPATH mode with GOPROXY=off.
 * The binary is cached under bench/results/go-mutex-bin/<hash of its inputs>/. Each phase runs the
 * binary as a child process: it creates its sessions and warms up, prints "ready", waits for a line
 * on stdin, runs the measured window and prints one JSON line (see main.go).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { LoopResult, Phase, Probe } from './load.js';
import { isExecutable, repoRoot, which } from './procs.js';
import type { ContendedResult } from './slotlock-http.js';
import { fairness } from './stats.js';

/** Where Debian's golang-etcd-server-dev puts the sources (GOPATH mode). */
const GOPATH = '/usr/share/gocode';
/** The import path of the package, as Debian's etcd 3.4 sources lay it out. */
const CONCURRENCY_PKG = 'go.etcd.io/etcd/clientv3/concurrency';
const SOURCE_DIR = join(repoRoot, 'bench', 'go-mutex');
const CACHE_DIR = join(repoRoot, 'bench', 'results', 'go-mutex-bin');
/** Session lease TTL of each worker (as the floor's and slotlock's session leases: 300 s). */
const SESSION_TTL_S = 300;

/** A built Go peer: the binary and what it was built with (for the run's record). */
export interface GoPeer {
  bin: string;
  /** e.g. "go1.19.8, etcd clientv3 3.4.23 (GOPATH /usr/share/gocode)". */
  describe: string;
}

function isFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function findGo(): string | undefined {
  return which('go') ?? (isExecutable('/usr/lib/go/bin/go') ? '/usr/lib/go/bin/go' : undefined);
}

/** Runs a command (no shell) and returns its stdout; rejects with the tail of stderr. */
function run(
  command: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        env: o.env ?? process.env,
        cwd: o.cwd ?? repoRoot,
        timeout: o.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else
          reject(
            new Error(
              `${command} ${args.join(' ')}: ${(stderr || err.message).trim().slice(-2000)}`,
            ),
          );
      },
    );
  });
}

const mutexSource = join(GOPATH, 'src', CONCURRENCY_PKG, 'mutex.go');

/**
 * Makes sure Go and etcd's Go sources are installed (running scripts/install-go-peer.sh when not)
 * and returns the built binary, from the cache when its inputs have not changed. Rejects with the
 * reason when it cannot; the caller skips the Go rows then.
 */
export async function prepareGoPeer(dir: string, log: (msg: string) => void): Promise<GoPeer> {
  if (findGo() === undefined || !isFile(mutexSource)) {
    log('Go or etcd Go sources missing; running scripts/install-go-peer.sh (apt-get)');
    await run('bash', [join(repoRoot, 'scripts', 'install-go-peer.sh')], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 15 * 60_000,
    });
  }
  const go = findGo();
  if (go === undefined) throw new Error('go is still not on PATH after install-go-peer.sh');
  if (!isFile(mutexSource)) throw new Error(`${mutexSource} is missing`);

  const goVersion = (await run(go, ['env', 'GOVERSION'], { timeoutMs: 30_000 })).trim();
  const etcdVersion =
    /Version\s*=\s*"([^"]+)"/.exec(
      await readFile(join(GOPATH, 'src', 'go.etcd.io', 'etcd', 'version', 'version.go'), 'utf8'),
    )?.[1] ?? 'unknown';
  const hash = createHash('sha256');
  for (const part of [
    await readFile(join(SOURCE_DIR, 'main.go')),
    goVersion,
    etcdVersion,
    await readFile(mutexSource),
    await readFile(join(GOPATH, 'src', CONCURRENCY_PKG, 'session.go')),
  ]) {
    hash.update(part).update('\0');
  }
  const cached = join(CACHE_DIR, hash.digest('hex').slice(0, 16), 'go-mutex');
  const describe = `${goVersion}, etcd clientv3 ${etcdVersion} (GOPATH ${GOPATH}, GO111MODULE=off)`;
  if (isExecutable(cached)) return { bin: cached, describe };

  log(`building bench/go-mutex with ${goVersion} in GOPATH mode (offline)`);
  const built = join(dir, 'go-mutex');
  const started = performance.now();
  await run(go, ['build', '-trimpath', '-o', built, '.'], {
    cwd: SOURCE_DIR,
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPROXY: 'off',
      GOFLAGS: '',
      GOPATH,
      GOCACHE: join(dir, 'go-cache'),
      CGO_ENABLED: '0',
    },
    timeoutMs: 10 * 60_000,
  });
  log(`  built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await mkdir(join(cached, '..'), { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  await copyFile(built, tmp);
  await rename(tmp, cached);
  return { bin: cached, describe };
}

/** The JSON line main.go prints (NaN is written as null). */
interface GoResult {
  concurrency: number;
  ops: number;
  errors: number;
  elapsedMs: number;
  opsPerS: number | null;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  perWorker: number[];
  firstError?: string;
}

function parseResult(line: string): GoResult {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error(`go-mutex printed ${line}`);
  const o = v as Record<string, unknown>;
  const num = (k: string): number => {
    const x = o[k];
    if (typeof x !== 'number') throw new Error(`go-mutex result has no number ${k}: ${line}`);
    return x;
  };
  const numOrNull = (k: string): number | null => (o[k] === null ? null : num(k));
  const perWorker = o.perWorker;
  if (!Array.isArray(perWorker) || !perWorker.every(n => typeof n === 'number')) {
    throw new Error(`go-mutex result has no perWorker: ${line}`);
  }
  const result: GoResult = {
    concurrency: num('concurrency'),
    ops: num('ops'),
    errors: num('errors'),
    elapsedMs: num('elapsedMs'),
    opsPerS: numOrNull('opsPerS'),
    meanMs: numOrNull('meanMs'),
    p50Ms: numOrNull('p50Ms'),
    p95Ms: numOrNull('p95Ms'),
    p99Ms: numOrNull('p99Ms'),
    maxMs: numOrNull('maxMs'),
    perWorker,
  };
  if (typeof o.firstError === 'string') result.firstError = o.firstError;
  return result;
}

function toLoopResult(g: GoResult): LoopResult {
  const n = (v: number | null) => v ?? Number.NaN;
  return {
    concurrency: g.concurrency,
    ops: g.ops,
    errors: g.errors,
    elapsedMs: g.elapsedMs,
    opsPerS: n(g.opsPerS),
    latency: {
      n: g.ops,
      mean: n(g.meanMs),
      p50: n(g.p50Ms),
      p95: n(g.p95Ms),
      p99: n(g.p99Ms),
      max: n(g.maxMs),
    },
    perWorker: g.perWorker,
    firstError: g.firstError,
  };
}

/** One measured phase of the Go peer. */
export interface GoMutexOptions {
  etcdUrl: string;
  mode: 'uncontended' | 'contended';
  concurrency: number;
  phase: Phase;
  /** Key prefix (unique per run). */
  prefix: string;
  /** For the child's stderr. */
  logFile: string;
  /** Called with the child's pid once it is ready; brackets the measured window. */
  probe?: (pid: number) => Probe;
}

/**
 * Runs one phase in a child process: waits until it has its sessions and has warmed up, starts the
 * probe, lets it measure, and stops the probe when the result arrives. The child is killed by its
 * pid in `finally` if it has not exited by then.
 */
export async function runGoMutex(peer: GoPeer, o: GoMutexOptions): Promise<LoopResult> {
  const boundMs = o.phase.warmupMs + o.phase.durationMs + 60_000;
  const args = [
    `-endpoint=${o.etcdUrl}`,
    `-mode=${o.mode}`,
    `-concurrency=${o.concurrency}`,
    `-duration=${o.phase.durationMs}ms`,
    `-warmup=${o.phase.warmupMs}ms`,
    `-max-ops=${o.phase.maxOps}`,
    `-prefix=${o.prefix}`,
    `-ttl=${SESSION_TTL_S}`,
    `-timeout=${boundMs + 30_000}ms`,
  ];
  const fd = openSync(o.logFile, 'a');
  const child = spawn(peer.bin, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', fd] });
  closeSync(fd);
  // A failed spawn, and a write to the pipe of a child that died (EPIPE), arrive as 'error'
  // events: without a listener they would end the whole bench.
  let spawnError: Error | undefined;
  child.on('error', err => {
    spawnError ??= err;
  });
  const { pid, stdin, stdout } = child;
  if (pid === undefined || stdin === null || stdout === null) {
    child.kill('SIGKILL');
    throw new Error(`could not start ${peer.bin}`);
  }
  stdin.on('error', () => undefined);
  const killOnExit = () => {
    kill(pid, 'SIGKILL');
  };
  process.on('exit', killOnExit);
  const queue: string[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  // 'close' comes after the exit and after its stdout was read to the end.
  const state = { gone: false };
  const closed = new Promise<void>(resolve =>
    child.once('close', () => {
      state.gone = true;
      wake();
      resolve();
    }),
  );
  const lines = createInterface({ input: stdout });
  lines.on('line', line => {
    queue.push(line);
    wake();
  });
  const nextLine = async (timeoutMs: number, what: string): Promise<string> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = queue.shift();
      if (line !== undefined) return line;
      if (state.gone) {
        const why = spawnError?.message ?? logTail(o.logFile);
        throw new Error(`go-mutex exited before ${what}: ${why}`);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`go-mutex: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>(resolve => {
        const woken = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const i = waiters.indexOf(woken);
          if (i >= 0) waiters.splice(i, 1);
          resolve();
        }, left);
        waiters.push(woken);
      });
    }
  };
  try {
    const ready = await nextLine(boundMs, '"ready"');
    if (ready !== 'ready') throw new Error(`go-mutex printed ${ready} instead of "ready"`);
    const probe = o.probe?.(pid);
    await probe?.start();
    stdin.write('go\n');
    const line = await nextLine(o.phase.durationMs + 60_000, 'its result');
    await probe?.end();
    return toLoopResult(parseResult(line));
  } finally {
    lines.close();
    stdin.end();
    if (!state.gone) {
      // After its result it revokes its sessions and exits; give it a moment, then SIGKILL.
      const timer = setTimeout(() => {
        kill(pid, 'SIGKILL');
      }, 5000);
      await closed;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
  }
}

/** The last lines the Go peer wrote on stderr (the log is in the run's temp dir, removed after). */
function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(-500);
  } catch {
    return '(no log)';
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** Contended: `clients` workers on one key; latency = time in Lock; fairness over the workers. */
export async function goMutexContended(
  peer: GoPeer,
  o: Omit<GoMutexOptions, 'mode' | 'concurrency'> & { clients: number },
): Promise<ContendedResult> {
  const loop = await runGoMutex(peer, { ...o, mode: 'contended', concurrency: o.clients });
  return { loop, fairness: fairness(loop.perWorker), capacity: 1 };
}
