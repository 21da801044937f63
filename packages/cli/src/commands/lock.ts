/** `slotlock lock <slot> -- <command…>`: run a command while holding a slot. */
import { hostname } from 'node:os';
import { isSlotlockError, SlotClient, type Grant } from '@slotlock/client';
import {
  clientOptions,
  intOption,
  parse,
  positionals,
  secondsOption,
  serviceOptions,
  serviceOptionsHelp,
  splitCommand,
  UsageError,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { note } from '../output.js';
import { runHeld } from '../run-held.js';

export const lockUsage = `usage: slotlock lock <slot> [--capacity N] [--ttl S] [--wait S] [--holder NAME] [--grace S] -- <command…>

Acquires <slot> (waiting up to --wait seconds in its FIFO queue), runs <command> with
SLOTLOCK_SLOT and SLOTLOCK_TOKEN (the fencing token) in its environment, keeps the grant alive
while it runs, and releases it when it exits. If the grant is lost, the command gets SIGTERM,
then SIGKILL after --grace seconds, and slotlock exits 4. Otherwise it exits with the command's
status; 3 if the slot stayed busy.

options:
  --capacity N     concurrent holders of the slot (default 1)
  --ttl S          lease TTL in seconds (server default when absent)
  --wait S         how long to wait for the slot (default 0: try once)
  --holder NAME    who holds it, shown to others (default: <hostname>:<pid>)
  --grace S        time between SIGTERM and SIGKILL after a loss (default 10)
${serviceOptionsHelp}`;

const options = {
  ...serviceOptions,
  capacity: { type: 'string' },
  ttl: { type: 'string' },
  wait: { type: 'string' },
  holder: { type: 'string' },
  grace: { type: 'string' },
} as const;

/** Runs `slotlock lock`; resolves with the exit code. */
export async function lock(argv: readonly string[]): Promise<number> {
  const { own, command } = splitCommand(argv);
  const { values, positionals: given } = parse(own, options);
  if (values.help) {
    console.log(lockUsage);
    return exitCodes.ok;
  }
  const [slot = ''] = positionals(given, ['slot']);
  if (command.length === 0) throw new UsageError('no command: put it after --');
  const capacity = intOption('capacity', values.capacity, undefined);
  const ttlMs = secondsOption('ttl', values.ttl, undefined);
  const waitMs = secondsOption('wait', values.wait, 0) ?? 0;
  const graceMs = secondsOption('grace', values.grace, 10_000) ?? 10_000;
  const slots = new SlotClient(clientOptions(values));
  const grant = await acquireWithin(slots, {
    slot,
    holder: values.holder ?? `${hostname()}:${process.pid}`,
    ...(capacity === undefined ? {} : { capacity }),
    ...(ttlMs === undefined ? {} : { ttlSeconds: Math.ceil(ttlMs / 1000) }),
    waitMs,
  });
  note(`holding slot "${slot}" with token ${grant.token}`);
  const run = await runHeld({
    command,
    env: { SLOTLOCK_SLOT: slot, SLOTLOCK_TOKEN: grant.token },
    lost: grant.signal,
    what: `the grant of slot "${slot}" (token ${grant.token})`,
    graceMs,
  });
  const lost =
    run.stoppedOnLoss ||
    (grant.signal.aborted && !isSlotlockError(grant.signal.reason, 'released'));
  try {
    await grant.release();
  } catch (err) {
    // After a loss the server may be unreachable; its lease expires on its own.
    if (!lost) throw err;
    note(
      `could not release the grant after the loss: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return lost ? exitCodes.lost : run.status;
}

/**
 * Acquires, waiting up to `waitMs` in all: the server caps one long-poll (30 s by default), so a
 * longer wait is several polls, each for what is left.
 */
async function acquireWithin(
  slots: SlotClient,
  req: { slot: string; holder: string; capacity?: number; ttlSeconds?: number; waitMs: number },
): Promise<Grant> {
  const end = performance.now() + req.waitMs;
  for (;;) {
    const left = Math.max(0, Math.round(end - performance.now()));
    try {
      return await slots.acquire({ ...req, waitMs: Math.min(left, 30_000) });
    } catch (err) {
      if (!isSlotlockError(err, 'wait_timeout') || end - performance.now() < 1) throw err;
    }
  }
}
