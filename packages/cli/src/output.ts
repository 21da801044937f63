/**
 * Where things are printed: data on stdout (plain text or JSON), progress and errors on stderr,
 * and how a failure becomes an exit code.
 */
import { isSlotlockError } from '@slotlock/client';
import { UsageError } from './cli-args.js';
import { exitCodes } from './exit-codes.js';

/** Prints one line of data on stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Prints `value` as one JSON line on stdout. */
export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints one line of progress or an error on stderr, prefixed with `slotlock:`. */
export function note(line: string): void {
  process.stderr.write(`slotlock: ${line}\n`);
}

/** Codes of answers that are a "no" rather than a failure (exit code 3). */
const negativeCodes = new Set([
  'slot_busy',
  'wait_timeout',
  'grant_gone',
  'not_found',
  'not_leader',
  'capacity_conflict',
]);

/** Prints `err` on stderr and returns the exit code it stands for. */
export function report(err: unknown, usage?: string): number {
  if (err instanceof UsageError) {
    note(err.message);
    if (usage !== undefined) process.stderr.write(`\n${usage}\n`);
    return exitCodes.usage;
  }
  if (isSlotlockError(err)) {
    note(err.message);
    if (err.code === 'invalid_options') return exitCodes.usage;
    return negativeCodes.has(err.code) ? exitCodes.negative : exitCodes.failure;
  }
  note(err instanceof Error ? err.message : String(err));
  return exitCodes.failure;
}

/** Aborts the returned signal on the first SIGINT or SIGTERM (a second one is not caught). */
export function interrupted(): AbortSignal {
  const ctl = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      ctl.abort(new Error(`received ${sig}`));
    });
  }
  return ctl.signal;
}
