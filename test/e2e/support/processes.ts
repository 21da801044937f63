/** Helpers for the e2e tests: install tools with the repo scripts, free ports, child processes. */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Runs `scripts/<script>` and returns the tool path it prints. Throws a message naming the tool
 * and the script's own error output when it fails, so a missing tool fails the test loudly.
 */
export async function installTool(
  script: string,
  tool: string,
  args: string[] = [],
  timeoutMs = 600_000,
) {
  const run = await runToEnd('bash', [`${repoRoot}scripts/${script}`, ...args], { timeoutMs });
  const path = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.code !== 0 || path === '') {
    throw new Error(
      `${tool} is required by this test and could not be installed ` +
        `(bash scripts/${script} ${args.join(' ')} exited with ${String(run.code ?? run.signal)}):\n` +
        run.stderr.trim().split('\n').slice(-20).join('\n'),
    );
  }
  return path;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export { freePort } from '../../../src/embedded-etcd/free-port.js';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command in its own process group to the end, killing the whole group when it takes
 * longer than `timeoutMs` and, after it exits, any helper it left behind (browsers fork).
 */
export async function runToEnd(
  command: string,
  args: string[],
  opts: { timeoutMs: number; cwd?: string },
): Promise<RunResult> {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGKILL');
  }, opts.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => {
    child.once('error', err => {
      stderr += String(err);
      resolve([null, null]);
    });
    child.once('close', (c, s) => {
      resolve([c, s]);
    });
  });
  clearTimeout(timer);
  killGroup(child.pid, 'SIGKILL');
  return { code, signal, stdout, stderr, timedOut };
}

/** A long-running child in its own process group, with its output appended to `logFile`. */
export interface Daemon {
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function startDaemon(command: string, args: string[], logFile: string): Daemon {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  const exited = new Promise<number | null>(resolve => {
    child.once('close', code => {
      resolve(code);
    });
    child.once('error', () => {
      resolve(null);
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid,
    exited,
    stop: (graceMs = 5000) => {
      stopping ??= (async () => {
        killGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => {
          killGroup(pid, 'SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
        killGroup(pid, 'SIGKILL');
        log.end();
      })();
      return stopping;
    },
  };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}
