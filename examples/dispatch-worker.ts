/**
 * A dispatch worker that runs "dispatch rounds" only while it leads an election.
 *
 *   npx tsx examples/dispatch-worker.ts --url http://127.0.0.1:8080 --election batch-dispatcher --id worker-1
 *
 * Run several with different --id: exactly one dispatches at a time. Every write carries the
 * term (fencing) token; with --fenced-url each round is POSTed there with the token in a
 * `Fencing-Token` header, so the resource can reject a deposed leader (a 409 ends the term here).
 * The worker re-campaigns after losing leadership and resigns on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { ElectionClient, isSlotlockError, type Leadership } from '@slotlock/client';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLOTLOCK_URL ?? 'http://127.0.0.1:8080' },
    election: { type: 'string', default: 'batch-dispatcher' },
    id: { type: 'string', default: `worker-${process.pid}` },
    ttl: { type: 'string', default: '5' },
    'round-ms': { type: 'string', default: '1000' },
    'fenced-url': { type: 'string' },
  },
});

const ttlSeconds = Number(args.ttl);
const roundMs = Number(args['round-ms']);

/** One JSON log line per event. */
function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ at: new Date().toISOString(), worker: args.id, event, ...fields }));
}

/** Resolves after `ms`, or early (false) when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise(resolve => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The protected write: a log line, or a POST to the fenced resource carrying the term token. */
async function write(record: { round: number; term: string }, signal: AbortSignal): Promise<void> {
  const fencedUrl = args['fenced-url'];
  if (fencedUrl === undefined) {
    log('write', record);
    return;
  }
  const res = await fetch(fencedUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'fencing-token': record.term },
    body: JSON.stringify({ ...record, worker: args.id }),
    signal,
  });
  const text = await res.text();
  if (res.status === 409) throw new Error(`the resource rejected term ${record.term}: ${text}`);
  if (!res.ok) throw new Error(`the resource answered ${res.status}: ${text}`);
  log('write', { ...record, status: res.status });
}

/** Dispatch rounds until leadership is lost or the process is told to stop. */
async function dispatchWhileLeading(leadership: Leadership, shutdown: AbortSignal): Promise<void> {
  const stop = AbortSignal.any([leadership.signal, shutdown]);
  for (let round = 1; !stop.aborted; round++) {
    // Timers fire late after a pause (GC, SIGSTOP): check the local deadline right before writing.
    if (leadership.expiresInMs() <= 0) return;
    await write({ round, term: leadership.token }, stop);
    if (!(await pause(roundMs, stop))) return;
  }
}

async function main(): Promise<void> {
  const shutdown = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      log('signal', { signal: sig });
      shutdown.abort(new Error(`received ${sig}`));
    });
  }
  // Functions, not property reads: TypeScript would keep a stale narrowing across awaits.
  const down = () => shutdown.signal.aborted;
  const lost = (l: Leadership) => l.signal.aborted;
  const elections = new ElectionClient({ url: args.url });
  log('start', { url: args.url, election: args.election, ttlSeconds });

  while (!down()) {
    let leadership: Leadership;
    try {
      log('campaign');
      leadership = await elections.campaign({
        election: args.election,
        candidate: args.id,
        value: args.id,
        ttlSeconds,
        signal: shutdown.signal,
      });
    } catch (err) {
      if (down()) break;
      log('campaign-failed', { error: String(err) });
      await pause(1000, shutdown.signal);
      continue;
    }
    log('elected', { term: leadership.token, waited: leadership.waited });
    try {
      await dispatchWhileLeading(leadership, shutdown.signal);
    } catch (err) {
      if (!lost(leadership) && !down()) {
        log('dispatch-failed', { term: leadership.token, error: String(err) });
      }
    } finally {
      if (lost(leadership) && !down()) {
        const reason: unknown = leadership.signal.reason;
        const code = isSlotlockError(reason) ? reason.code : undefined;
        log('leadership-lost', { term: leadership.token, code, reason: String(reason) });
      } else if (leadership.expiresInMs() <= 0 && !down()) {
        log('leadership-lost', { term: leadership.token, code: 'deadline_passed' });
      }
      // Resigning is idempotent; after a loss it frees a still-live term at once.
      await leadership.resign().catch((err: unknown) => {
        log('resign-failed', { term: leadership.token, error: String(err) });
      });
      if (down()) log('resigned', { term: leadership.token });
    }
  }
  log('stopped');
}

main().catch((err: unknown) => {
  log('fatal', { error: String(err) });
  process.exitCode = 1;
});
