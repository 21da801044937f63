/** `slotlock verify --etcd <endpoints>`: audit etcd's revision history of a slotlock prefix. */
import { parse, positionals, UsageError } from '../cli-args.js';
import { exitCodes } from '../exit-codes.js';
import { note, out, outJson } from '../output.js';
import { Audit } from '../verify/audit.js';
import {
  CompactedError,
  connect,
  headRevision,
  history,
  snapshot,
} from '../verify/etcd-history.js';

export const verifyUsage = `usage: slotlock verify --etcd <endpoints> [--prefix P] [--from-revision R] [--json]

Audits etcd's own revision history of a slotlock key prefix, from revision R (default: the oldest
revision etcd still has) up to its current revision: at every revision each slot has at most its
capacity of holders (places closed by lock-delay included) and each election at most one leader,
and holders are admitted in token order. It only reads (a range and a watch), never writes.
Prints a summary and the first violations; exits 3 if there are any.
Uses the etcd3 package (npm install etcd3) and the service's ETCD_USERNAME, ETCD_PASSWORD,
ETCD_CA_FILE, ETCD_CERT_FILE and ETCD_KEY_FILE variables.

options:
  --etcd URLS          comma-separated etcd endpoints (default: $ETCD_ENDPOINTS)
  --prefix P           slotlock's key prefix (default: $ETCD_PREFIX or slotlock/)
  --from-revision R    first revision to audit (the state at R-1 is the starting point)
  --max N              violations to print (default 20)
  --json               one JSON document with the summary and the violations
  -h, --help           this help`;

const options = {
  etcd: { type: 'string' },
  prefix: { type: 'string' },
  'from-revision': { type: 'string' },
  max: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `slotlock verify`; resolves with the exit code. */
export async function verify(argv: readonly string[]): Promise<number> {
  const { values, positionals: given } = parse(argv, options);
  if (values.help) {
    console.log(verifyUsage);
    return exitCodes.ok;
  }
  positionals(given, []);
  const endpoints = (values.etcd ?? process.env.ETCD_ENDPOINTS ?? '').split(',').filter(Boolean);
  if (endpoints.length === 0)
    throw new UsageError('no etcd endpoints: pass --etcd or set ETCD_ENDPOINTS');
  const prefix = values.prefix ?? process.env.ETCD_PREFIX ?? 'slotlock/';
  const fromArg = values['from-revision'];
  if (fromArg !== undefined && !/^[1-9]\d*$/.test(fromArg)) {
    throw new UsageError(`--from-revision must be a revision (1 or more), got "${fromArg}"`);
  }
  const max = Number(values.max ?? '20');
  const client = await connect({ endpoints, env: process.env });
  try {
    const to = await headRevision(client);
    let from = fromArg === undefined ? 1n : BigInt(fromArg);
    if (from > to + 1n) {
      throw new UsageError(`--from-revision ${from} is after etcd's current revision ${to}`);
    }
    let audit: Audit;
    let events = 0;
    for (;;) {
      try {
        ({ audit, events } = await replay(client, prefix, from, to));
        break;
      } catch (err) {
        if (!(err instanceof CompactedError) || fromArg !== undefined) throw err;
        note(
          `history before revision ${err.compactRevision + 1n} was compacted; auditing from there`,
        );
        from = err.compactRevision + 1n;
      }
    }
    const r = audit.result();
    const summary = {
      prefix,
      fromRevision: from.toString(),
      toRevision: to.toString(),
      events,
      ...r,
    };
    if (values.json)
      outJson({
        ...summary,
        violations: r.violations.slice(0, max),
        violationCount: r.violations.length,
      });
    else {
      out(
        `audited ${prefix} from revision ${from} to ${to}: ${events} events, ${r.slots} slots, ` +
          `${r.elections} elections, ${r.contenders} contenders: ${r.violations.length} violation(s)`,
      );
      for (const v of r.violations.slice(0, max)) out(`violation: ${v}`);
      if (r.violations.length > max) out(`… and ${r.violations.length - max} more`);
    }
    return r.violations.length > 0 ? exitCodes.negative : exitCodes.ok;
  } finally {
    client.close();
  }
}

async function replay(
  client: Awaited<ReturnType<typeof connect>>,
  prefix: string,
  from: bigint,
  to: bigint,
): Promise<{ audit: Audit; events: number }> {
  const audit = new Audit(prefix);
  let events = 0;
  if (from > 1n) audit.revision(from - 1n, await snapshot(client, prefix, from - 1n));
  if (from > to) return { audit, events };
  for await (const batch of history(client, prefix, from, to)) {
    events += batch.events.length;
    audit.revision(batch.revision, batch.events);
  }
  return { audit, events };
}
