/**
 * A dispatch worker that runs "dispatch rounds" only while it leads an election.
 *
 *   SLOTLOCK_URL=http://127.0.0.1:8080 npx tsx examples/dispatch-worker.ts --id worker-1
 *
 * Run several with different --id: exactly one dispatches at a time. `lead()` campaigns, runs
 * the rounds with the term, campaigns again after a loss, and resigns on SIGTERM/SIGINT. Every
 * write carries the term (fencing) token; with --fenced-url each round is POSTed there with the
 * token in a `Fencing-Token` header, so the resource can reject a deposed leader.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ElectionClient } from '@slotlock/client';

const { values: args } = parseArgs({
  options: {
    election: { type: 'string', default: 'batch-dispatcher' },
    id: { type: 'string', default: `worker-${process.pid}` },
    ttl: { type: 'string', default: '5' },
    'round-ms': { type: 'string', default: '1000' },
    'fenced-url': { type: 'string' },
  },
});

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ at: new Date().toISOString(), worker: args.id, event, ...fields }));
}

/** The protected write: a log line, or a POST to the fenced resource carrying the term token. */
async function write(round: number, term: string, signal: AbortSignal): Promise<void> {
  const url = args['fenced-url'];
  if (url === undefined) {
    log('write', { round, term });
    return;
  }
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'fencing-token': term },
    body: JSON.stringify({ round, term, worker: args.id }),
    signal,
  });
  if (!res.ok) throw new Error(`the resource answered ${res.status}: ${await res.text()}`);
  log('write', { round, term, status: res.status });
}

const shutdown = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.once(sig, () => {
    shutdown.abort();
  });

// The URL comes from SLOTLOCK_URL.
await new ElectionClient({}).lead(
  {
    election: args.election,
    candidate: args.id,
    value: args.id,
    ttlSeconds: Number(args.ttl),
    signal: shutdown.signal,
  },
  async (term, lost) => {
    log('elected', { term: term.token });
    for (let round = 1; !lost.aborted; round++) {
      term.assertHeld(); // a paused process cannot run a timer: check the clock right before writing
      await write(round, term.token, lost);
      await sleep(Number(args['round-ms']), undefined, { signal: lost }).catch(() => undefined);
    }
    log('term-ended', { term: term.token, reason: String(lost.reason) });
  },
);
log('stopped');
