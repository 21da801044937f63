/**
 * Worker processes of the fencing experiment: spawned as plain `node --import tsx` (so the pid is
 * the worker itself and SIGSTOP freezes exactly it), their stdout lines parsed into events, their
 * stdin used for commands. Every spawned pid is killed by pid in {@link WorkerProcess.kill}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  parseEvent,
  workerEnv,
  type WorkerCommand,
  type WorkerEvent,
  type WorkerSettings,
} from './experiment-protocol.js';

const workerScript = fileURLToPath(new URL('./experiment-worker.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const STDERR_TAIL = 4000;

// Safety net for a hard exit (overall timeout, crash): no worker, stopped or not, outlives us.
const livePids = new Set<number>();
process.on('exit', killAllWorkers);

/** SIGKILLs, by pid, every worker spawned by this process that has not exited yet. */
export function killAllWorkers(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** What a worker process reported: an event, or its exit. */
export type WorkerItem =
  | { w: WorkerProcess; e: WorkerEvent }
  | { w: WorkerProcess; e: { event: 'exit'; code: number | null; signal: string | null } };

/** One worker process; its events and its exit go to `sink`. */
export class WorkerProcess {
  readonly name: string;
  readonly pid: number;
  private readonly child: ChildProcess;
  private stderr = '';
  private alive = true;
  private stopped = false;

  constructor(settings: WorkerSettings, sink: (item: WorkerItem) => void) {
    this.name = settings.worker;
    this.child = spawn(process.execPath, ['--import', tsxLoader, workerScript], {
      env: { ...process.env, ...workerEnv(settings) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn worker ${this.name}`);
    this.pid = this.child.pid;
    livePids.add(this.pid);
    this.child.stdin?.on('error', () => undefined);
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    if (this.child.stdout !== null) {
      createInterface({ input: this.child.stdout }).on('line', line => {
        const e = parseEvent(line);
        if (e !== undefined) sink({ w: this, e });
      });
    }
    this.child.on('exit', (code, signal) => {
      this.alive = false;
      livePids.delete(this.pid);
      sink({ w: this, e: { event: 'exit', code, signal } });
    });
  }

  /** The last few KiB of the worker's stderr, for error messages. */
  get stderrTail(): string {
    return this.stderr;
  }

  send(cmd: WorkerCommand): void {
    if (this.alive) this.child.stdin?.write(`${cmd}\n`);
  }

  /**
   * SIGSTOP: a stop-the-world pause. Resolves once the kernel reports the process stopped, so a
   * command written afterwards cannot be acted on before the pause.
   */
  async freeze(signal: AbortSignal): Promise<void> {
    process.kill(this.pid, 'SIGSTOP');
    this.stopped = true;
    while ((await processState(this.pid)) !== 'T') {
      signal.throwIfAborted();
      await new Promise(resolve => setImmediate(resolve));
    }
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.alive) process.kill(this.pid, 'SIGCONT');
  }

  /** SIGKILL by pid if the worker is still running (a stopped process dies too). */
  kill(): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The state letter of /proc/<pid>/stat ('T' = stopped), or 'T' where /proc does not exist. */
async function processState(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && process.platform !== 'linux') {
      return 'T';
    }
    throw err;
  }
}

/** An unbounded queue of worker items, read one at a time with a deadline. */
export class ItemQueue {
  private readonly items: WorkerItem[] = [];
  private wake: (() => void) | undefined;

  readonly push = (item: WorkerItem): void => {
    this.items.push(item);
    this.wake?.();
  };

  /** The next item; rejects with `signal.reason` once `signal` aborts. */
  async next(signal: AbortSignal): Promise<WorkerItem> {
    for (;;) {
      signal.throwIfAborted();
      const item = this.items.shift();
      if (item !== undefined) return item;
      await new Promise<void>(resolve => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
