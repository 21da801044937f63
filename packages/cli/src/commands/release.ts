/** `slotlock release --force <slot> <token>`: an admin ends a stuck grant without its secret. */
import { SlotClient } from '@slotlock/client';
import {
  clientOptions,
  parse,
  positionals,
  serviceOptions,
  serviceOptionsHelp,
  UsageError,
} from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { out, outJson } from '../output.js';

export const releaseUsage = `usage: slotlock release --force <slot> <token> [--json]

Ends grant <token> of <slot> without its holder secret (for a stuck holder with a long TTL),
through the admin endpoint DELETE /v1/admin/slots/{slot}/grants/{token}: needs the admin
permission when the service has authentication. The holder learns of it at its next keepalive.
Exits 3 if the grant does not exist (any more).

options:
  --force          required: says that you end someone else's grant
${serviceOptionsHelp}`;

const options = { ...serviceOptions, force: { type: 'boolean', default: false } } as const;

/** Runs `slotlock release`; resolves with the exit code. */
export async function release(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, options);
  if (values.help) {
    console.log(releaseUsage);
    return exitCodes.ok;
  }
  if (!values.force) {
    throw new UsageError(
      "release without the holder secret ends someone else's grant: say so with --force " +
        '(a holder releases its own grant with the client)',
    );
  }
  const [slot = '', token = ''] = positionals(given, ['slot', 'token']);
  const ended = await new SlotClient(clientOptions(values)).forceRelease(slot, token);
  if (values.json) outJson(ended);
  else
    out(
      `released token ${ended.token} of slot ${ended.slot} (holder ${ended.holder ?? 'unknown'})`,
    );
  return exitCodes.ok;
}
