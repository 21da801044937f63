#!/usr/bin/env node
/**
 * `slotlock`: the operator's command for a slotlock service, built on `@slotlock/client` only
 * (and on `etcd3` for `verify`, which reads etcd directly). Data goes to stdout, progress and
 * errors to stderr; the exit codes are in exit-codes.ts and `slotlock --help`.
 */
import { report } from './output.js';
import { exitCodes } from './exit-codes.js';
import { elect, electUsage } from './commands/elect.js';
import { lock, lockUsage } from './commands/lock.js';
import { bundle, bundleUsage } from './commands/bundle.js';
import {
  check,
  checkUsage,
  inspect,
  inspectUsage,
  leader,
  leaderUsage,
  ls,
  lsUsage,
} from './commands/reads.js';
import { release, releaseUsage } from './commands/release.js';
import { verify, verifyUsage } from './commands/verify.js';
import { watch, watchUsage } from './commands/watch.js';

type Command = (argv: readonly string[]) => Promise<number>;

const commands: Record<string, { run: Command; usage: string; summary: string }> = {
  lock: { run: lock, usage: lockUsage, summary: 'run a command while holding a slot' },
  bundle: {
    run: bundle,
    usage: bundleUsage,
    summary: 'run a command while holding several slots (all or none)',
  },
  elect: {
    run: elect,
    usage: electUsage,
    summary: 'run a command while leader, or --listen to leader changes',
  },
  leader: { run: leader, usage: leaderUsage, summary: 'print the current leader of an election' },
  ls: { run: ls, usage: lsUsage, summary: 'list slots with holders or waiters' },
  inspect: { run: inspect, usage: inspectUsage, summary: "print a slot's holders and waiters" },
  check: { run: check, usage: checkUsage, summary: 'is a fencing token still current?' },
  watch: { run: watch, usage: watchUsage, summary: "print a slot's changes" },
  release: { run: release, usage: releaseUsage, summary: '(admin) --force-release a stuck grant' },
  verify: { run: verify, usage: verifyUsage, summary: "audit etcd's history of a slotlock prefix" },
};

const usage = `usage: slotlock <command> [options] (slotlock <command> --help for each)

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`)
  .join('\n')}

Common options: --url (or SLOTLOCK_URL), --api-key (or SLOTLOCK_API_KEY), --json, --help.

exit codes:
  0    done (check: the token is current)
  1    the service or etcd failed, could not be reached, or answered something unexpected
  2    bad arguments
  3    a negative answer: slot busy or wait timed out, token not current, no leader,
       no such grant to release, or verify found violations
  4    lock/elect: the grant or leadership was lost while the command ran (it was stopped)
  127  lock/elect: the command could not be started
  otherwise lock/elect exit with the command's status (128 + N if it died of signal N)`;

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`slotlock: unknown command "${name}"\n\n${usage}\n`);
    return exitCodes.usage;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    return report(err, command.usage);
  }
}

process.exitCode = await main(process.argv.slice(2));
