/** `slotlock elect <name> -- <command…>` (run while leader) and `slotlock elect <name> --listen`. */
import { hostname } from 'node:os';
import { ElectionClient, isSlotlockError, type LeaderChange } from '@slotlock/client';
import {
  clientOptions,
  parse,
  positionals,
  secondsOption,
  serviceOptions,
  serviceOptionsHelp,
  splitCommand,
  UsageError,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { interrupted, note, out, outJson } from '../output.js';
import { runHeld } from '../run-held.js';

export const electUsage = `usage: slotlock elect <name> [--value V] [--candidate NAME] [--ttl S] [--grace S] -- <command…>
       slotlock elect <name> --listen [--json]

The first form campaigns until elected (SIGINT/SIGTERM gives up), then runs <command> with
SLOTLOCK_ELECTION and SLOTLOCK_TERM (the term token) in its environment, and resigns when it
exits. If leadership is lost, the command gets SIGTERM, then SIGKILL after --grace seconds, and
slotlock exits 4; otherwise it exits with the command's status.
The second form prints the current leader and then every change, until SIGINT/SIGTERM.

options:
  --value V        value published with the leadership (e.g. an address)
  --candidate NAME who campaigns, shown to observers (default: <hostname>:<pid>)
  --ttl S          term lease TTL in seconds (server default when absent)
  --grace S        time between SIGTERM and SIGKILL after a loss (default 10)
  --listen         print leader changes instead of campaigning
${serviceOptionsHelp}`;

const options = {
  ...serviceOptions,
  value: { type: 'string' },
  candidate: { type: 'string' },
  ttl: { type: 'string' },
  grace: { type: 'string' },
  listen: { type: 'boolean', default: false },
} as const;

/** Runs `slotlock elect`; resolves with the exit code. */
export async function elect(argv: readonly string[]): Promise<number> {
  const { own, command } = splitCommand(argv);
  const { values, positionals: given } = parse(own, options);
  if (values.help) {
    console.log(electUsage);
    return exitCodes.ok;
  }
  const [election = ''] = positionals(given, ['name']);
  const elections = new ElectionClient(clientOptions(values));
  if (values.listen) {
    if (command.length > 0) throw new UsageError('--listen takes no command');
    return listen(elections, election, values.json);
  }
  if (command.length === 0) throw new UsageError('no command: put it after -- (or use --listen)');
  const ttlMs = secondsOption('ttl', values.ttl, undefined);
  const graceMs = secondsOption('grace', values.grace, 10_000) ?? 10_000;
  const stop = interrupted();
  note(`campaigning in election "${election}"`);
  let term;
  try {
    term = await elections.campaign({
      election,
      candidate: values.candidate ?? `${hostname()}:${process.pid}`,
      ...(values.value === undefined ? {} : { value: values.value }),
      ...(ttlMs === undefined ? {} : { ttlSeconds: Math.ceil(ttlMs / 1000) }),
      signal: stop,
    });
  } catch (err) {
    if (stop.aborted) {
      note('gave up the campaign');
      return exitCodes.negative;
    }
    throw err;
  }
  note(`leading election "${election}" with term ${term.token}`);
  const run = await runHeld({
    command,
    env: { SLOTLOCK_ELECTION: election, SLOTLOCK_TERM: term.token },
    lost: term.signal,
    what: `the leadership of "${election}" (term ${term.token})`,
    graceMs,
  });
  const lost =
    run.stoppedOnLoss || (term.signal.aborted && !isSlotlockError(term.signal.reason, 'released'));
  try {
    await term.resign();
  } catch (err) {
    // After a loss the server may be unreachable; its lease expires on its own.
    if (!lost) throw err;
    note(`could not resign after the loss: ${err instanceof Error ? err.message : String(err)}`);
  }
  return lost ? exitCodes.lost : run.status;
}

async function listen(elections: ElectionClient, election: string, json: boolean): Promise<number> {
  const stop = interrupted();
  for await (const change of elections.observe({ election, signal: stop })) {
    if (json) outJson(change);
    else out(describe(change));
  }
  return exitCodes.ok;
}

/** One line per leader state: `revision R: leader C (term T, value "V")` or `no leader`. */
export function describe(change: LeaderChange): string {
  const l = change.leader;
  if (l === null) return `revision ${change.revision}: no leader`;
  return `revision ${change.revision}: leader ${l.candidate} (term ${l.token}, value ${JSON.stringify(l.value)})`;
}
