/**
 * The line protocol between the fencing experiment and its worker processes. Workers print one
 * JSON event per line on stdout; the experiment answers on the worker's stdin with one command
 * per line. The "go" after every read is what lets the experiment stop a worker at an exact point
 * of its critical section: between reading the shared resource and writing it back.
 */

/** How the workers write the shared resource. */
export type ExperimentMode = 'unfenced' | 'fenced';

/** The shared resource's state: a counter and an append-only log of who wrote with which token. */
export interface ResourceState {
  counter: number;
  log: { writer: string; token: string }[];
}

/** What a worker prints, one JSON object per line. */
export type WorkerEvent =
  | { event: 'ready'; worker: string; pid: number }
  | { event: 'acquired'; worker: string; token: string; acquireMs: number; waited: boolean }
  /** Read the resource while holding `token`; now waits for "go" before writing. */
  | { event: 'read'; worker: string; token: string; counter: number }
  | { event: 'wrote'; worker: string; token: string; counter: number; revision: string }
  | {
      event: 'rejected';
      worker: string;
      token: string;
      status: number;
      code: string;
      detail: string;
      winningToken: string | null;
    }
  | { event: 'released'; worker: string; token: string }
  | { event: 'timeout'; worker: string }
  | { event: 'done'; worker: string }
  | { event: 'error'; worker: string; message: string };

/** What the experiment sends: "go" (write now) or "stop" (finish and exit). */
export type WorkerCommand = 'go' | 'stop';

/** Settings a worker reads from its environment. */
export interface WorkerSettings {
  worker: string;
  mode: ExperimentMode;
  slotlockUrl: string;
  /** The unfenced resource's base URL (unfenced mode only). */
  resourceUrl: string | undefined;
  slot: string;
  record: string;
  ttlS: number;
}

/** Environment variables carrying {@link WorkerSettings} to a worker process. */
export function workerEnv(s: WorkerSettings): Record<string, string> {
  return {
    EXP_WORKER: s.worker,
    EXP_MODE: s.mode,
    EXP_SLOTLOCK_URL: s.slotlockUrl,
    EXP_RESOURCE_URL: s.resourceUrl ?? '',
    EXP_SLOT: s.slot,
    EXP_RECORD: s.record,
    EXP_TTL_S: String(s.ttlS),
  };
}

/** Reads {@link WorkerSettings} back in the worker; throws naming a missing variable. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): WorkerSettings {
  const need = (name: string): string => {
    const v = env[name];
    if (v === undefined || v === '') throw new Error(`${name} is not set`);
    return v;
  };
  const mode = need('EXP_MODE');
  if (mode !== 'fenced' && mode !== 'unfenced') throw new Error(`EXP_MODE=${mode} is unknown`);
  const resourceUrl = env.EXP_RESOURCE_URL;
  return {
    worker: need('EXP_WORKER'),
    mode,
    slotlockUrl: need('EXP_SLOTLOCK_URL'),
    resourceUrl: resourceUrl === undefined || resourceUrl === '' ? undefined : resourceUrl,
    slot: need('EXP_SLOT'),
    record: need('EXP_RECORD'),
    ttlS: Number(need('EXP_TTL_S')),
  };
}

/** Parses one stdout line of a worker; undefined for anything that is not an event. */
export function parseEvent(line: string): WorkerEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(line) as { event?: unknown };
    return typeof v.event === 'string' ? (v as WorkerEvent) : undefined;
  } catch {
    return undefined;
  }
}
