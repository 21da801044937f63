/** Runs the built `slotlock` CLI as a child process, the way an operator runs it. */
import { execFile } from 'node:child_process';
import { cliMain } from '../support/packages.js';
import { startChild, type Child } from '../support/child.js';

/** What one finished run of the CLI printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `slotlock ...args` to completion (killed after `timeoutMs`). */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<CliRun> {
  return new Promise(resolve => {
    execFile(
      process.execPath,
      [cliMain, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts a long-running `slotlock ...args` (lock, elect, watch) to drive by its output. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): Child {
  return startChild(process.execPath, [cliMain, ...args], { env: { ...process.env, ...env } });
}
