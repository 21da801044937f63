/**
 * A worker process of the fencing experiment. It loops: acquire the slot (wait mode), read the
 * shared resource, wait for "go" on stdin, write back counter + 1 with its own log entry, release.
 * Between the read and the write the experiment may SIGSTOP it for longer than the TTL: like a
 * GC pause, the worker does not notice and writes with its old grant when it is continued.
 * Settings come from the environment (see experiment-protocol.ts); events go to stdout.
 */
import { createInterface } from 'node:readline';
import {
  FencingClient,
  SlotClient,
  isSlotlockError,
  type Grant,
  type SlotlockError,
} from '@slotlock/client';
import {
  settingsFromEnv,
  type ResourceState,
  type WorkerCommand,
  type WorkerEvent,
  type WorkerSettings,
} from './experiment-protocol.js';

const WAIT_MS = 10_000;

function emit(e: WorkerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/** Commands from stdin, handed out in order; "stop" also aborts `stopped`. */
class Commands {
  private readonly queued: WorkerCommand[] = [];
  private wake: (() => void) | undefined;
  private readonly stop = new AbortController();

  constructor() {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', line => {
      const cmd = line.trim();
      if (cmd !== 'go' && cmd !== 'stop') return;
      if (cmd === 'stop') this.stop.abort(new Error('stopped by the experiment'));
      this.queued.push(cmd);
      this.wake?.();
    });
    // The experiment went away: stop rather than run on as an orphan.
    lines.on('close', () => {
      this.stop.abort(new Error('stdin closed'));
      this.queued.push('stop');
      this.wake?.();
    });
  }

  get stopped(): AbortSignal {
    return this.stop.signal;
  }

  async next(): Promise<WorkerCommand> {
    for (;;) {
      const cmd = this.queued.shift();
      if (cmd !== undefined) return cmd;
      await new Promise<void>(resolve => (this.wake = resolve));
    }
  }
}

/** The shared resource as the worker sees it: unfenced HTTP cell, or a fenced record in etcd. */
interface Resource {
  read(): Promise<ResourceState>;
  /** Resolves with the apply order of the write (etcd revision or cell sequence). */
  write(state: ResourceState, grant: Grant): Promise<string>;
}

function resourceFor(s: WorkerSettings): Resource {
  if (s.mode === 'fenced') {
    const fencing = new FencingClient({ url: s.slotlockUrl });
    return {
      read: async () => {
        const v = await fencing.readFenced({ slot: s.slot, record: s.record });
        return v === null ? { counter: 0, log: [] } : (JSON.parse(v.value) as ResourceState);
      },
      write: async (state, grant) => {
        const out = await fencing.fencedWrite({
          slot: s.slot,
          record: s.record,
          token: grant.token,
          secret: grant.secret,
          value: JSON.stringify(state),
        });
        return out.revision;
      },
    };
  }
  const url = `${s.resourceUrl ?? ''}/state`;
  return {
    read: async () => (await (await fetch(url)).json()) as ResourceState,
    write: async (state, grant) => {
      const res = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state, writer: s.worker, token: grant.token }),
      });
      return ((await res.json()) as { seq: string }).seq;
    },
  };
}

/** One pass through the critical section; false once told to stop. */
async function cycle(
  s: WorkerSettings,
  slots: SlotClient,
  resource: Resource,
  commands: Commands,
): Promise<boolean> {
  const started = performance.now();
  let grant: Grant;
  try {
    grant = await slots.acquire({
      slot: s.slot,
      holder: s.worker,
      ttlSeconds: s.ttlS,
      waitMs: WAIT_MS,
      signal: commands.stopped,
    });
  } catch (err) {
    if (commands.stopped.aborted) return false;
    if (isSlotlockError(err, 'wait_timeout')) {
      emit({ event: 'timeout', worker: s.worker });
      return true;
    }
    throw err;
  }
  const { token } = grant;
  const acquireMs = performance.now() - started;
  emit({ event: 'acquired', worker: s.worker, token, acquireMs, waited: grant.waited });
  try {
    const state = await resource.read();
    emit({ event: 'read', worker: s.worker, token, counter: state.counter });
    // A paused worker is stopped here; it resumes believing it still holds the slot.
    if ((await commands.next()) === 'stop') return false;
    const next: ResourceState = {
      counter: state.counter + 1,
      log: [...state.log, { writer: s.worker, token }],
    };
    try {
      const revision = await resource.write(next, grant);
      emit({ event: 'wrote', worker: s.worker, token, counter: next.counter, revision });
    } catch (err) {
      if (!isSlotlockError(err)) throw err;
      emit(rejection(s.worker, token, err));
    }
    return true;
  } finally {
    await grant.release().catch(() => undefined);
    emit({ event: 'released', worker: s.worker, token });
  }
}

function rejection(worker: string, token: string, err: SlotlockError): WorkerEvent {
  const winning = err.problem?.winningToken;
  return {
    event: 'rejected',
    worker,
    token,
    status: err.status,
    code: err.code,
    detail: err.detail,
    winningToken: typeof winning === 'string' ? winning : null,
  };
}

async function main(): Promise<void> {
  const s = settingsFromEnv(process.env);
  const commands = new Commands();
  // Acquire retries are safe (one Idempotency-Key per acquire); fenced writes are never retried.
  const slots = new SlotClient({ url: s.slotlockUrl });
  const resource = resourceFor(s);
  emit({ event: 'ready', worker: s.worker, pid: process.pid });
  while (await cycle(s, slots, resource, commands));
  emit({ event: 'done', worker: s.worker });
}

main().then(
  () => {
    process.stdout.write('', () => process.exit(0));
  },
  (err: unknown) => {
    const worker = process.env.EXP_WORKER ?? '?';
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    emit({ event: 'error', worker, message });
    process.stdout.write('', () => process.exit(1));
  },
);
