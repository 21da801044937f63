/**
 * Child processes of a benchmark run: etcd (via src/embedded-etcd/index.ts), redis-server, the
 * slotlock service and small workers. Every child is registered here and stopped by its pid; an
 * exit hook SIGKILLs whatever is left if the run dies.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, startEtcdMember, type EtcdMember } from '../src/embedded-etcd/index.js';

/** The repository root (bench/..). */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const live = new Map<number, string>();
let hooked = false;

function track(pid: number, name: string): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const pid of live.keys()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  live.set(pid, name);
}

/** A child we started: its pid, a promise of its exit, and a stop that escalates to SIGKILL. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(opts?: { graceMs?: number; signal?: NodeJS.Signals }): Promise<void>;
}

/** Spawns `command` with output appended to `logFile`, tracked for cleanup. */
export function spawnChild(
  name: string,
  command: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string; pipeStdout?: boolean },
): Child & { process: ChildProcess } {
  const fd = openSync(o.logFile, 'a');
  const child = spawn(command, args, {
    cwd: o.cwd ?? repoRoot,
    env: o.env ?? process.env,
    stdio: ['ignore', o.pipeStdout === true ? 'pipe' : fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  track(pid, name);
  const exited = new Promise<number | null>(resolve => {
    child.once('exit', code => {
      live.delete(pid);
      resolve(code);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (opts: { graceMs?: number; signal?: NodeJS.Signals } = {}): Promise<void> => {
    stopping ??= (async () => {
      if (!live.has(pid)) return;
      signal(pid, opts.signal ?? 'SIGTERM');
      const gone = await Promise.race([
        exited.then(() => true),
        sleep(opts.graceMs ?? 5000, false),
      ]);
      if (!gone) {
        signal(pid, 'SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };
  return { name, pid, exited, stop, process: child };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: it exited meanwhile
  }
}

/** Names of children still running (for the final check). */
export function liveChildren(): string[] {
  return [...live.entries()].map(([pid, name]) => `${name} (pid ${pid})`);
}

/** Starts a lone etcd member on loopback in `dir`. */
export async function startEtcd(dir: string): Promise<EtcdMember> {
  const member = await startEtcdMember({
    name: 'bench',
    dataDir: join(dir, 'etcd'),
    logFile: join(dir, 'etcd.log'),
    readyTimeoutMs: 30_000,
  });
  track(member.pid, 'etcd');
  void member.exited.then(() => live.delete(member.pid));
  return member;
}

/** The executable `command` on PATH, if any. */
export function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, command);
    if (isExecutable(path)) return path;
  }
  return undefined;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFile(command, args, { env, maxBuffer: 32 * 1024 * 1024 }, (err, _out, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.slice(-2000)}`));
    });
  });
}

/**
 * Finds redis-server, installing Debian's package when missing and running as root. Returns
 * undefined (with the reason in `log`) when it cannot, so the run goes on without Redlock.
 */
export async function ensureRedis(log: (msg: string) => void): Promise<string | undefined> {
  const found =
    which('redis-server') ??
    (isExecutable('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined);
  if (found !== undefined) return found;
  if (process.getuid?.() !== 0 || which('apt-get') === undefined) {
    log('redis-server is missing; install it with: sudo apt-get install -y redis-server');
    return undefined;
  }
  log('redis-server not found; installing it with apt-get');
  try {
    await run('apt-get', ['install', '-y', '-qq', 'redis-server']);
  } catch {
    await run('apt-get', ['update', '-qq']);
    await run('apt-get', ['install', '-y', '-qq', 'redis-server']);
  }
  return which('redis-server') ?? '/usr/bin/redis-server';
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts redis-server on a free loopback port without persistence; resolves once PING answers. */
export async function startRedis(
  bin: string,
  dir: string,
): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const child = spawnChild(
    'redis-server',
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    { logFile: join(dir, 'redis.log') },
  );
  const deadline = performance.now() + 15_000;
  while (!(await pings(port))) {
    if (performance.now() > deadline || !live.has(child.pid)) {
      await child.stop({ graceMs: 1000 });
      throw new Error(`redis-server did not answer PING on port ${port}`);
    }
    await sleep(50);
  }
  return { child, port };
}

function pings(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => {
      done(false);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('connect', () => {
      socket.write('PING\r\n');
    });
    socket.once('data', (chunk: Buffer) => {
      done(chunk.toString().startsWith('+PONG'));
    });
  });
}

/** An environment without slotlock's and etcd's own variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ETCD_') || k === 'PORT' || k === 'HOST' || k === 'LOG_LEVEL') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A running slotlock service (a child `node --import tsx src/main.ts`). */
export interface Service extends Child {
  readonly url: string;
}

/**
 * Starts the real service as a child process on a free loopback port against `etcdUrl` and
 * waits for /readyz. With `cpuProfDir` it runs under `--cpu-prof` (written on a clean exit).
 */
export async function startService(o: {
  etcdUrl: string;
  dir: string;
  name: string;
  prefix: string;
  env?: Record<string, string>;
  cpuProfDir?: string;
  /** Another checkout of slotlock to run (bench/ab.ts); default this one. */
  cwd?: string;
}): Promise<Service> {
  const port = await freePort();
  const args = ['--import', 'tsx'];
  if (o.cpuProfDir !== undefined) args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
  args.push('src/main.ts');
  const logFile = join(o.dir, `${o.name}.log`);
  const child = spawnChild(o.name, process.execPath, args, {
    logFile,
    ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
    env: cleanEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      ETCD_ENDPOINTS: o.etcdUrl,
      ETCD_PREFIX: o.prefix,
      LOG_LEVEL: 'warn',
      ...o.env,
    }),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/readyz`, child, logFile, 30_000);
  return { ...child, url };
}

/** Polls `url` until it answers 200; fails (stopping the child) on exit or after `timeoutMs`. */
export async function waitReady(
  url: string,
  child: Child,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) })
      .then(res => res.ok)
      .catch(() => false);
    if (ok) return;
    if (!live.has(child.pid) || performance.now() > deadline) {
      await child.stop({ graceMs: 1000 });
      let tail = '';
      try {
        tail = readFileSync(logFile, 'utf8').slice(-2000);
      } catch {
        // no log
      }
      throw new Error(`${child.name} did not become ready at ${url}; log tail:\n${tail}`);
    }
    await sleep(100);
  }
}

/** CPU seconds (user+system) a process has used so far, from /proc (Linux only; NaN elsewhere). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process in bytes, from /proc (NaN when unreadable). */
export function procRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
