/** The read commands: `leader`, `ls`, `inspect`, `check`. Data on stdout; `--json` on each. */
import { ElectionClient, SlotClient, type SlotView } from '@slotlock/client';
import {
  clientOptions,
  intOption,
  parse,
  positionals,
  serviceOptions,
  serviceOptionsHelp,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { out, outJson } from '../output.js';
import { describe } from './elect.js';

export const leaderUsage = `usage: slotlock leader <name> [--json]

Prints the current leader of election <name> (read linearizably); exits 3 when nobody leads.

options:
${serviceOptionsHelp}`;

export const lsUsage = `usage: slotlock ls [--prefix P] [--limit N] [--json]

Lists the slots that have holders or waiters, with their number of contenders.

options:
  --prefix P       only slots whose name starts with P
  --limit N        at most N slots
${serviceOptionsHelp}`;

export const inspectUsage = `usage: slotlock inspect <slot> [--json]

Prints the holders of <slot> (holder, token, time left), the number waiting and the last clean
release (never a secret).

options:
${serviceOptionsHelp}`;

export const checkUsage = `usage: slotlock check <slot> <token> [--json]

Whether <token> is still a current grant of <slot> (a sequencer check): exits 0 if it is, 3 if
not, and prints the slot's highest token.

options:
${serviceOptionsHelp}`;

function helped(help: boolean, usage: string): boolean {
  if (help) console.log(usage);
  return help;
}

/** `slotlock leader <name>`. */
export async function leader(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, serviceOptions);
  if (helped(values.help, leaderUsage)) return exitCodes.ok;
  const [election = ''] = positionals(given, ['name']);
  const change = await new ElectionClient(clientOptions(values)).leader({ election });
  if (values.json) outJson(change);
  else out(describe(change));
  return change.leader === null ? exitCodes.negative : exitCodes.ok;
}

/** `slotlock ls`. */
export async function ls(argv: readonly string[]): Promise<number> {
  const opts = {
    ...serviceOptions,
    prefix: { type: 'string' },
    limit: { type: 'string' },
  } as const;
  const { values, positionals: given } = parse(argv, opts);
  if (helped(values.help, lsUsage)) return exitCodes.ok;
  positionals(given, []);
  const limit = intOption('limit', values.limit, undefined);
  const list = await new SlotClient(clientOptions(values)).list({
    ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
    ...(limit === undefined ? {} : { limit }),
  });
  if (values.json) {
    outJson(list);
    return exitCodes.ok;
  }
  for (const s of list.slots) out(`${s.slot}\t${s.contenders}`);
  if (list.truncated) out('… (truncated: raise --limit)');
  return exitCodes.ok;
}

/** `slotlock inspect <slot>`. */
export async function inspect(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, serviceOptions);
  if (helped(values.help, inspectUsage)) return exitCodes.ok;
  const [slot = ''] = positionals(given, ['slot']);
  const view = await new SlotClient(clientOptions(values)).inspect(slot);
  if (values.json) outJson(view);
  else for (const line of viewLines(view)) out(line);
  return exitCodes.ok;
}

/** A slot view as text: a summary line, then one line per holder. */
export function viewLines(view: SlotView): string[] {
  const capacity = view.capacity === null ? '-' : String(view.capacity);
  const lines = [
    `slot ${view.slot}: capacity ${capacity}, ${view.holders.length} holding, ${view.waiting} waiting, ` +
      `last released token ${view.lastReleasedToken ?? '-'} (revision ${view.revision})`,
  ];
  for (const h of view.holders) {
    const left = h.expiresInMs === null ? '?' : `${h.expiresInMs} ms`;
    lines.push(`  token ${h.token}\t${h.holder}\t${left} left${h.session ? '\t(session)' : ''}`);
  }
  return lines;
}

/** `slotlock check <slot> <token>`. */
export async function check(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, serviceOptions);
  if (helped(values.help, checkUsage)) return exitCodes.ok;
  const [slot = '', token = ''] = positionals(given, ['slot', 'token']);
  const res = await new SlotClient(clientOptions(values)).check(slot, token);
  if (values.json) outJson(res);
  else {
    const state = res.current ? 'current' : 'not current';
    out(
      `token ${res.token} of slot ${res.slot} is ${state} (highest token ${res.highestToken ?? '-'})`,
    );
  }
  return res.current ? exitCodes.ok : exitCodes.negative;
}
