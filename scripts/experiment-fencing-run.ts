/**
 * One run of the fencing experiment (Kleppmann's paused lock holder): worker processes take turns
 * on one slot; when a pause is due, the worker that has just read the resource is SIGSTOPped; it
 * is continued only after another worker has been granted the slot (which etcd allows only once
 * the paused worker's lease expired) and has written. The continued worker then writes its stale
 * read-modify-write. Every step is driven by worker events; the one timer only makes sure the
 * pause also lasts longer than the TTL (the grant can come slightly sooner, as the lease was last
 * renewed before the SIGSTOP).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { KeyLayout } from '../src/etcd/keys.js';
import type { EtcdStore } from '../src/etcd/store.js';
import type { ExperimentMode, WorkerEvent } from './experiment-protocol.js';
import { ItemQueue, WorkerProcess } from './experiment-process.js';
import { startUnfencedResource, type AppliedWrite } from './experiment-resource.js';
import { fencedHistory } from './experiment-history.js';

/** How much longer than the TTL a pause lasts at least. */
const PAUSE_MARGIN_MS = 100;

/** What a run needs: the slotlock under test, its etcd (to read the fenced record's history). */
export interface RunOptions {
  mode: ExperimentMode;
  slotlockUrl: string;
  etcd: Etcd3;
  store: EtcdStore;
  keys: KeyLayout;
  slot: string;
  workers: number;
  pauses: number;
  ttlS: number;
  /** Applied writes before each pause and after the last one. */
  writesBetweenPauses: number;
  /** Aborts the run (the overall deadline); every worker is killed either way. */
  signal: AbortSignal;
  log?: (line: string) => void;
}

/** One injected pause and what the paused worker's late write did. */
export interface PauseRecord {
  victim: string;
  victimToken: string;
  /** SIGSTOP to SIGCONT. */
  pausedMs: number;
  /** SIGSTOP to another worker's grant: lease expiry plus handover. */
  failoverMs: number;
  newerToken: string;
  outcome: 'applied' | 'rejected';
  /** For a rejected late write: the problem code, detail and winning token. */
  code?: string;
  detail?: string;
  winningToken?: string | null;
}

/** The result of one run. */
export interface RunResult {
  mode: ExperimentMode;
  workers: number;
  pauses: PauseRecord[];
  /** Writes the worker saw succeed. */
  acknowledged: number;
  /** Writes the resource applied, in apply order. */
  history: AppliedWrite[];
  finalCounter: number;
  /** Applied writes whose token is lower than a token already applied before them. */
  staleWrites: number;
  /** Acknowledged increments missing from the final counter. */
  lostUpdates: number;
  /** Writes the resource refused, by code. */
  rejections: Record<string, number>;
  acquires: { ms: number; waited: boolean }[];
}

/** Runs the workers in `mode` until `pauses` pauses are done; kills them all in any case. */
export async function runMode(o: RunOptions): Promise<RunResult> {
  const record = 'shared';
  const resource = o.mode === 'unfenced' ? await startUnfencedResource() : undefined;
  const startRevision = await o.store.revision({ signal: o.signal });
  const queue = new ItemQueue();
  const workers: WorkerProcess[] = [];
  try {
    for (let i = 1; i <= o.workers; i++) {
      const settings = {
        worker: `w${i}`,
        mode: o.mode,
        slotlockUrl: o.slotlockUrl,
        resourceUrl: resource?.url,
        slot: o.slot,
        record,
        ttlS: o.ttlS,
      };
      workers.push(new WorkerProcess(settings, queue.push));
    }
    const run = await drive(o, workers, queue);
    const applied =
      resource === undefined
        ? await fencedHistory(
            o.etcd,
            o.store,
            o.keys.fencedRecord(o.slot, record),
            startRevision,
            o.signal,
          )
        : { history: resource.history(), finalCounter: resource.state().counter };
    return {
      mode: o.mode,
      workers: o.workers,
      ...run,
      history: applied.history,
      finalCounter: applied.finalCounter,
      staleWrites: countStale(applied.history),
      lostUpdates: run.acknowledged - applied.finalCounter,
    };
  } finally {
    for (const w of workers) w.kill();
    await resource?.close();
  }
}

interface Pause {
  victim: WorkerProcess;
  token: string;
  stoppedAt: number;
  phase: 'wait-grant' | 'wait-write' | 'resumed';
  newer?: WorkerProcess;
  newerToken?: string;
  failoverMs?: number;
  resumedAt?: number;
}

/** The event loop of a run: answers reads, injects pauses, stops the workers at the end. */
async function drive(o: RunOptions, workers: WorkerProcess[], queue: ItemQueue) {
  const log = o.log ?? (() => undefined);
  const pauses: PauseRecord[] = [];
  const acquires: { ms: number; waited: boolean }[] = [];
  const rejections: Record<string, number> = {};
  let acknowledged = 0;
  let sincePause = 0;
  let pause: Pause | undefined;
  // An object, not a let: it is set inside maybeStop and read in the loop.
  const state = { stopping: false };
  let running = workers.length;

  const maybeStop = () => {
    if (state.stopping || pauses.length < o.pauses || sincePause < o.writesBetweenPauses) return;
    state.stopping = true;
    for (const w of workers) w.send('stop');
  };

  while (running > 0) {
    const { w, e } = await queue.next(o.signal);
    switch (e.event) {
      case 'acquired':
        acquires.push({ ms: e.acquireMs, waited: e.waited });
        if (pause?.phase === 'wait-grant' && w !== pause.victim) {
          pause.failoverMs = performance.now() - pause.stoppedAt;
          pause.phase = 'wait-write';
          pause.newer = w;
          pause.newerToken = e.token;
          log(`  ${w.name} granted token ${e.token} after ${Math.round(pause.failoverMs)} ms`);
        }
        break;
      case 'read':
        if (state.stopping) break;
        if (
          pause === undefined &&
          pauses.length < o.pauses &&
          sincePause >= o.writesBetweenPauses
        ) {
          await w.freeze(o.signal);
          pause = { victim: w, token: e.token, stoppedAt: performance.now(), phase: 'wait-grant' };
          log(`  ${w.name} (token ${e.token}) read counter ${e.counter}: SIGSTOP`);
        }
        w.send('go');
        break;
      case 'wrote':
        acknowledged++;
        if (pause?.phase === 'wait-write' && w === pause.newer) {
          // The lease was last renewed before the SIGSTOP, so the grant can come a little
          // before one TTL has passed; hold the pause until it is longer than the TTL too.
          await delay(
            pause.stoppedAt + o.ttlS * 1000 + PAUSE_MARGIN_MS - performance.now(),
            o.signal,
          );
          pause.resumedAt = performance.now();
          pause.phase = 'resumed';
          pause.victim.thaw();
          log(`  ${w.name} wrote with token ${e.token}: SIGCONT ${pause.victim.name}`);
        } else if (pause?.phase === 'resumed' && w === pause.victim) {
          pauses.push(finish(pause, 'applied', e));
          log(`  ${w.name} late write with token ${e.token} was APPLIED (counter ${e.counter})`);
          pause = undefined;
          sincePause = 0;
        } else if (pause === undefined) {
          sincePause++;
        }
        maybeStop();
        break;
      case 'rejected':
        rejections[e.code] = (rejections[e.code] ?? 0) + 1;
        if (pause?.phase === 'resumed' && w === pause.victim) {
          pauses.push(finish(pause, 'rejected', e));
          log(`  ${w.name} late write with token ${e.token} was REJECTED: ${e.status} ${e.code}`);
          pause = undefined;
          sincePause = 0;
        }
        maybeStop();
        break;
      case 'error':
        throw new Error(`worker ${w.name} failed: ${e.message}`);
      case 'exit':
        running--;
        if (!state.stopping) {
          throw new Error(`worker ${w.name} exited early (${e.code ?? e.signal}): ${w.stderrTail}`);
        }
        break;
      default:
        break;
    }
  }
  return { pauses, acquires, rejections, acknowledged };
}

function finish(p: Pause, outcome: 'applied' | 'rejected', e: WorkerEvent): PauseRecord {
  const now = performance.now();
  return {
    victim: p.victim.name,
    victimToken: p.token,
    pausedMs: Math.round((p.resumedAt ?? now) - p.stoppedAt),
    failoverMs: Math.round(p.failoverMs ?? 0),
    newerToken: p.newerToken ?? '',
    outcome,
    ...(e.event === 'rejected'
      ? { code: e.code, detail: e.detail, winningToken: e.winningToken }
      : {}),
  };
}

/** Applied writes whose token is below the highest token applied before them. */
export function countStale(history: readonly AppliedWrite[]): number {
  let highest = 0n;
  let stale = 0;
  for (const w of history) {
    const t = BigInt(w.token);
    if (t < highest) stale++;
    else highest = t;
  }
  return stale;
}

/** Waits `ms` (nothing if <= 0); the only timer of a run, and it only lengthens a pause. */
async function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await sleep(ms, undefined, { signal });
}
