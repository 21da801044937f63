/**
 * Runs a command while something is held (a grant or a leadership), like `etcdctl lock` and
 * `consul lock`: SIGINT/SIGTERM to slotlock are passed on to the command, and when `lost` aborts
 * the command gets SIGTERM, then SIGKILL after `graceMs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { exitCodes } from './exit-codes.js';
import { note } from './output.js';

/** How the command ended. */
export interface HeldRun {
  /** The exit code to report: the command's status, or 128 + N when signal N killed it. */
  status: number;
  /** True when the command was stopped because `lost` aborted. */
  stoppedOnLoss: boolean;
}

/** What to run and what it depends on. */
export interface HeldRunOptions {
  command: readonly string[];
  env: Record<string, string>;
  /** Aborts when the grant or leadership is lost. */
  lost: AbortSignal;
  /** Describes the held thing in messages, e.g. `the grant of slot "a" (token 12)`. */
  what: string;
  graceMs: number;
}

/** Spawns the command with stdio inherited and resolves once it has exited. */
export async function runHeld(opts: HeldRunOptions): Promise<HeldRun> {
  const [file, ...args] = opts.command;
  if (file === undefined) throw new Error('no command to run');
  // Handlers first: a signal that arrives while the command starts is passed on, not fatal.
  const early: NodeJS.Signals[] = [];
  const ref: { child?: ChildProcess } = {};
  const forward = (sig: NodeJS.Signals) => () => {
    if (ref.child === undefined) early.push(sig);
    else ref.child.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const started = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...opts.env } });
  ref.child = started;
  for (const sig of early) started.kill(sig);
  let stoppedOnLoss = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    stoppedOnLoss = true;
    const reason: unknown = opts.lost.reason;
    const why = reason instanceof Error ? reason.message : String(reason);
    note(
      `lost ${opts.what} (${why}); stopping the command (SIGTERM, SIGKILL in ${opts.graceMs} ms)`,
    );
    started.kill('SIGTERM');
    killTimer = setTimeout(() => started.kill('SIGKILL'), opts.graceMs);
  };
  opts.lost.addEventListener('abort', onLost, { once: true });
  try {
    return await new Promise<HeldRun>(resolve => {
      started.once('error', err => {
        note(`cannot run ${file}: ${err.message}`);
        resolve({ status: exitCodes.notStarted, stoppedOnLoss: false });
      });
      started.once('exit', (code, signal) => {
        const status = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
        resolve({ status, stoppedOnLoss });
      });
    });
  } finally {
    clearTimeout(killTimer);
    opts.lost.removeEventListener('abort', onLost);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
