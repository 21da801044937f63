/**
 * A child process a test drives by its output: wait for a stdout line that matches, read what it
 * printed, and always stop it by pid (SIGKILL after a grace) even when the test fails.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A running child with its output collected. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or `signal:<name>`) once the process has exited. */
  exited: Promise<number | string>;
  /** Resolves with the first stdout line matching `re`, rejecting after `timeoutMs` or at exit. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` (if still running) and waits for the exit, SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/** Spawns `cmd args` with stdout and stderr piped. */
export function startChild(cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (proc.pid === undefined) throw new Error(`could not start ${cmd}`);
  let out = '';
  let err = '';
  let done = false;
  const waiters = new Set<() => void>();
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of waiters) w();
  });
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>(resolve => {
    proc.once('exit', (code, signal) => {
      done = true;
      for (const w of waiters) w();
      resolve(code ?? `signal:${signal ?? 'unknown'}`);
    });
  });
  const line = (re: RegExp, timeoutMs = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = out.split('\n').find(l => re.test(l));
        if (hit !== undefined)
          finish(() => {
            resolve(hit);
          });
        else if (done)
          finish(() => {
            reject(new Error(`exited before printing ${re}: ${out}${err}`));
          });
      };
      const timer = setTimeout(() => {
        finish(() => {
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms: ${out}${err}`));
        });
      }, timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000) => {
    if (!done) proc.kill(signal);
    const timer = setTimeout(() => {
      if (!done) proc.kill('SIGKILL');
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { proc, pid: proc.pid, stdout: () => out, stderr: () => err, exited, line, stop };
}
