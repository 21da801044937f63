/** `slotlock watch <slot>`: print a slot's holders and waiters whenever they change. */
import { setTimeout as sleep } from 'node:timers/promises';
import { SlotClient, type SlotView } from '@slotlock/client';
import {
  clientOptions,
  parse,
  positionals,
  secondsOption,
  serviceOptions,
  serviceOptionsHelp,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { interrupted, out, outJson } from '../output.js';
import { viewLines } from './reads.js';

export const watchUsage = `usage: slotlock watch <slot> [--interval S] [--json]

Prints the state of <slot> (as inspect does), then again each time its holders, capacity or
number waiting change, until SIGINT/SIGTERM. The service has no event stream for slots yet, so
this reads the slot every --interval seconds (default 1).

options:
  --interval S     time between reads (default 1)
${serviceOptionsHelp}`;

const options = { ...serviceOptions, interval: { type: 'string' } } as const;

/** Runs `slotlock watch`; resolves with the exit code once interrupted. */
export async function watch(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, options);
  if (values.help) {
    console.log(watchUsage);
    return exitCodes.ok;
  }
  const [slot = ''] = positionals(given, ['slot']);
  const intervalMs = secondsOption('interval', values.interval, 1000) ?? 1000;
  const slots = new SlotClient(clientOptions(values));
  const stop = interrupted();
  let last: string | undefined;
  // A function, so TypeScript does not carry the loop condition's narrowing across the await.
  const stopped = () => stop.aborted;
  while (!stopped()) {
    let view: SlotView;
    try {
      view = await slots.inspect(slot, { signal: stop });
    } catch (err) {
      if (stopped()) break;
      throw err;
    }
    const state = fingerprint(view);
    if (state !== last) {
      last = state;
      if (values.json) outJson(view);
      else for (const line of viewLines(view)) out(line);
    }
    await sleep(intervalMs, undefined, { signal: stop }).catch(() => undefined);
  }
  return exitCodes.ok;
}

/** What counts as a change: capacity, waiting, and the holders' tokens (not their time left). */
function fingerprint(view: SlotView): string {
  const tokens = view.holders.map(h => `${h.token}:${h.holder}`).join(',');
  return `${view.capacity ?? '-'}|${view.waiting}|${tokens}`;
}
