/** `slotlock bundle <slot> <slot>… -- <command…>`: run a command while holding several slots. */
import { hostname } from 'node:os';
import { BundleClient, isSlotlockError, type Bundle } from '@slotlock/client';
import {
  clientOptions,
  parse,
  secondsOption,
  serviceOptions,
  serviceOptionsHelp,
  splitCommand,
  UsageError,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { note } from '../output.js';
import { runHeld } from '../run-held.js';

export const bundleUsage = `usage: slotlock bundle <slot>[@N] <slot>[@N]… [--ttl S] [--wait S] [--holder NAME] [--grace S] -- <command…>

Acquires every <slot> together or none (a bundle: FIFO across slots, never deadlocks), waiting up
to --wait seconds, runs <command> with SLOTLOCK_SLOTS (the slots, comma-separated) and
SLOTLOCK_TOKEN (the fencing token, the same in every slot) in its environment, keeps the bundle
alive while it runs and releases all of it when it exits. "<slot>@N" takes a slot of capacity N
(default 1). If the bundle is lost, the command gets SIGTERM, then SIGKILL after --grace seconds,
and slotlock exits 4. Otherwise it exits with the command's status; 3 if a slot stayed busy.

options:
  --ttl S          lease TTL in seconds (server default when absent)
  --wait S         how long to wait for all the slots (default 0: try once)
  --holder NAME    who holds it, shown to others (default: <hostname>:<pid>)
  --grace S        time between SIGTERM and SIGKILL after a loss (default 10)
${serviceOptionsHelp}`;

const options = {
  ...serviceOptions,
  ttl: { type: 'string' },
  wait: { type: 'string' },
  holder: { type: 'string' },
  grace: { type: 'string' },
} as const;

/** "driver:42" or "zone:n@20" (slot names cannot contain "@"). */
function slotArg(arg: string): { slot: string; capacity?: number } {
  const at = arg.lastIndexOf('@');
  if (at < 0) return { slot: arg };
  const capacity = Number(arg.slice(at + 1));
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new UsageError(`"${arg}": the capacity after "@" must be a positive integer`);
  }
  return { slot: arg.slice(0, at), capacity };
}

/** Runs `slotlock bundle`; resolves with the exit code. */
export async function bundle(argv: readonly string[]): Promise<number> {
  const { own, command } = splitCommand(argv);
  const { values, positionals: given } = parse(own, options);
  if (values.help) {
    console.log(bundleUsage);
    return exitCodes.ok;
  }
  if (given.length === 0) throw new UsageError('name at least one slot');
  if (command.length === 0) throw new UsageError('no command: put it after --');
  const slots = given.map(slotArg);
  const ttlMs = secondsOption('ttl', values.ttl, undefined);
  const waitMs = secondsOption('wait', values.wait, 0) ?? 0;
  const graceMs = secondsOption('grace', values.grace, 10_000) ?? 10_000;
  const client = new BundleClient(clientOptions(values));
  const held = await acquireWithin(client, {
    slots,
    holder: values.holder ?? `${hostname()}:${process.pid}`,
    ...(ttlMs === undefined ? {} : { ttlSeconds: Math.ceil(ttlMs / 1000) }),
    waitMs,
  });
  const names = slots.map(s => s.slot).join(',');
  note(`holding slots ${names} with token ${held.token}`);
  const run = await runHeld({
    command,
    env: { SLOTLOCK_SLOTS: names, SLOTLOCK_TOKEN: held.token },
    lost: held.signal,
    what: `the bundle of ${names} (token ${held.token})`,
    graceMs,
  });
  const lost =
    run.stoppedOnLoss || (held.signal.aborted && !isSlotlockError(held.signal.reason, 'released'));
  try {
    await held.release();
  } catch (err) {
    if (!lost) throw err;
    note(
      `could not release the bundle after the loss: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return lost ? exitCodes.lost : run.status;
}

/** Acquires, waiting up to `waitMs` in all, in long-polls of at most 30 s each. */
async function acquireWithin(
  client: BundleClient,
  req: {
    slots: { slot: string; capacity?: number }[];
    holder: string;
    ttlSeconds?: number;
    waitMs: number;
  },
): Promise<Bundle> {
  const end = performance.now() + req.waitMs;
  for (;;) {
    const left = Math.max(0, Math.round(end - performance.now()));
    try {
      return await client.acquire({ ...req, waitMs: Math.min(left, 30_000) });
    } catch (err) {
      if (!isSlotlockError(err, 'wait_timeout') || end - performance.now() < 1) throw err;
    }
  }
}
