/**
 * Argument parsing shared by every command, on Node's `util.parseArgs`: the common options
 * (`--url`, `--api-key`, `--json`, `--help`), the part after `--`, and usage errors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ClientOptions } from '@slotlock/client';

/** A mistake in the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that talks to the service accepts. */
export const serviceOptions = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/** The lines of `--help` that describe {@link serviceOptions}. */
export const serviceOptionsHelp = `  --url URL        the slotlock service (default: $SLOTLOCK_URL)
  --api-key KEY    your credential, sent as Authorization: Bearer (default: $SLOTLOCK_API_KEY)
  --json           machine-readable output (one JSON document, or one JSON line per event)
  -h, --help       this help`;

/** Splits `argv` at the first `--`: options and positionals before, a command after. */
export function splitCommand(argv: readonly string[]): { own: string[]; command: string[] } {
  const at = argv.indexOf('--');
  if (at < 0) return { own: [...argv], command: [] };
  return { own: argv.slice(0, at), command: argv.slice(at + 1) };
}

/** Parses `argv` with `options`; unknown options and bad values become {@link UsageError}s. */
export function parse<O extends Options>(
  argv: readonly string[],
  options: O,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Client options from `--url`/`SLOTLOCK_URL` and `--api-key`/`SLOTLOCK_API_KEY`. */
export function clientOptions(values: { url?: string; 'api-key'?: string }): ClientOptions {
  const url = values.url ?? process.env.SLOTLOCK_URL;
  if (url === undefined || url === '') {
    throw new UsageError('no service URL: pass --url or set SLOTLOCK_URL');
  }
  const key = values['api-key'] ?? process.env.SLOTLOCK_API_KEY;
  return key === undefined || key === '' ? { url } : { url, credential: key };
}

/** A whole number of at least `min` from option `name`, or `fallback` when absent. */
export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number | undefined,
  min = 1,
): number | undefined {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got "${raw}"`);
  }
  return Number(raw);
}

/** A duration in seconds (decimals allowed) from option `name`, as ms, or `fallback`. */
export function secondsOption(
  name: string,
  raw: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw)) {
    throw new UsageError(`--${name} must be a number of seconds, got "${raw}"`);
  }
  return Math.round(Number(raw) * 1000);
}

/** Exactly `names.length` positionals, named in the error when some are missing or extra. */
export function positionals(given: readonly string[], names: readonly string[]): string[] {
  if (given.length !== names.length) {
    const want = names.map(n => `<${n}>`).join(' ');
    throw new UsageError(`expected ${want}, got ${given.length} argument(s)`);
  }
  return [...given];
}
