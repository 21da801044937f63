/**
 * Child processes of a chaos run: slotlock replicas (`src/main.ts`) and workload clients. Each is
 * started with CHAOS_RUN_DIR in its environment and its pid appended to `<runDir>/pids`, so a
 * parent can find and stop leftovers by pid (and tell them from unrelated processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;

/** Records `pid` as started by the run in `runDir`. */
export function registerPid(runDir: string, pid: number): void {
  appendFileSync(`${runDir}/pids`, `${pid}\n`);
}

/** True if `pid` runs and was started by the run in `runDir` (its environment says so). */
export function ownedByRun(runDir: string, pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .includes(`CHAOS_RUN_DIR=${runDir}`);
  } catch {
    return false;
  }
}

/** SIGCONT + SIGKILL every registered process of `runDir` that still runs; returns how many. */
export function killLeftovers(runDir: string): number {
  let text: string;
  try {
    text = readFileSync(`${runDir}/pids`, 'utf8');
  } catch {
    return 0;
  }
  let killed = 0;
  for (const pid of new Set(text.split('\n').filter(Boolean).map(Number))) {
    if (!ownedByRun(runDir, pid)) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

/** Polls `probe` every 50 ms until it is true; throws `what` once `timeoutMs` has passed. */
export async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve(probe()).catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(POLL_MS);
  }
}

/** A child process with its exit as a promise. */
export class Child {
  readonly exited: Promise<void>;
  private done = false;

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise(resolve => {
      child.once('exit', () => {
        this.done = true;
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return !this.done;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.done) this.child.kill(sig);
  }

  /** `sig` (default SIGTERM), then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (this.done) return;
    this.signal('SIGCONT');
    this.signal(sig);
    const timer = setTimeout(() => {
      this.signal('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts `node --import tsx <script> ...args` with output appended to `logFile`. */
export function startNode(
  runDir: string,
  script: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
  stdout: 'log' | 'pipe' = 'log',
): Child {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, ...env, CHAOS_RUN_DIR: runDir },
      stdio: ['ignore', stdout === 'log' ? fd : 'pipe', fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${script}`);
    registerPid(runDir, child.pid);
    return new Child(child);
  } finally {
    closeSync(fd);
  }
}

/** A slotlock replica on a fixed port, so that it can be restarted where clients expect it. */
export class Replica {
  private proc: Child | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly runDir: string,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** Starts the process and waits until `/readyz` answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.proc = startNode(
      this.runDir,
      'src/main.ts',
      [],
      { ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      `${this.runDir}/${this.name}.log`,
    );
    await this.ready(timeoutMs);
  }

  async ready(timeoutMs: number): Promise<void> {
    const proc = this.proc;
    await until(
      `${this.name} ready`,
      async () => {
        if (proc?.running !== true) throw new Error(`${this.name} exited`);
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        return res.status === 200;
      },
      timeoutMs,
    );
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.signal(sig);
  }

  async kill(): Promise<void> {
    this.proc?.signal('SIGKILL');
    await this.proc?.exited;
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 5000);
  }
}

/** Reads JSON lines from a piped stdout and hands each parsed object to `onEvent`. */
export function onJsonLines(child: Child, onEvent: (event: Record<string, unknown>) => void): void {
  const out = child.child.stdout;
  if (out === null) return;
  createInterface({ input: out }).on('line', line => {
    try {
      onEvent(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not an event line
    }
  });
}
