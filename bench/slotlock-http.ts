/**
 * slotlock over HTTP, driven from this process against the service running as a child process:
 * uncontended acquire+release cycles on distinct slots, and contended handover on one slot
 * (exclusive or capacity N) in wait mode.
 */
import { HttpJson, IDLE_SOCKET_MS, expectStatus, stringField } from './http-client.js';
import { closedLoop, times, type LoopResult, type Phase, type Probe, type Runner } from './load.js';
import { fairness, type Fairness } from './stats.js';
import type { LeaseMode } from './floor.js';

/** A client session: the token to send in acquires and the id to end it. */
interface SessionHandle {
  token: string;
  id: string;
}

async function createSession(http: HttpJson, ttlSeconds: number): Promise<SessionHandle> {
  const res = await http.request('POST', '/v1/sessions', { body: { ttlSeconds } });
  expectStatus(res, 201, 'POST /v1/sessions');
  return { token: stringField(res.body, 'session'), id: stringField(res.body, 'id') };
}

async function endSession(http: HttpJson, s: SessionHandle): Promise<void> {
  const res = await http.request('DELETE', `/v1/sessions/${s.id}`, { bearer: s.token });
  expectStatus(res, 204, 'DELETE /v1/sessions/{id}');
}

/**
 * Creates one session per worker (session mode; or `shared` sessions that workers share round
 * robin, created 32 at a time) and ends them all afterwards.
 */
async function withSessions<T>(
  http: HttpJson,
  mode: LeaseMode,
  n: number,
  f: (sessions: (SessionHandle | undefined)[]) => Promise<T>,
  shared?: number,
): Promise<T> {
  const sessions: SessionHandle[] = [];
  if (mode === 'session' && shared === undefined) {
    sessions.push(...(await Promise.all(times(n, () => createSession(http, 300)))));
  } else if (mode === 'session' && shared !== undefined) {
    while (sessions.length < Math.min(n, shared)) {
      const batch = Math.min(32, Math.min(n, shared) - sessions.length);
      sessions.push(...(await Promise.all(times(batch, () => createSession(http, 300)))));
    }
  }
  try {
    return await f(times(n, i => sessions[i % Math.max(1, sessions.length)]));
  } finally {
    await Promise.allSettled(sessions.map(s => endSession(http, s)));
  }
}

function acquireBody(
  worker: number,
  session: SessionHandle | undefined,
  extra: Record<string, number> = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = { holder: `bench-${worker}`, ...extra };
  if (session === undefined) body.ttlSeconds = 10;
  else body.session = session.token;
  return body;
}

const enc = (slot: string) => encodeURIComponent(slot);

/** One acquire (201 expected) and its release; returns nothing (the loop times the cycle). */
async function cycle(
  http: HttpJson,
  slot: string,
  body: Record<string, unknown>,
  onHeld?: () => void,
  timeoutMs?: number,
): Promise<void> {
  const got = await http.request('POST', `/v1/slots/${enc(slot)}/grants`, {
    body,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  expectStatus(got, 201, 'acquire');
  onHeld?.();
  const token = stringField(got.body, 'token');
  const released = await http.request('DELETE', `/v1/slots/${enc(slot)}/grants/${token}`, {
    bearer: stringField(got.body, 'secret'),
  });
  expectStatus(released, 204, 'release');
}

/** Uncontended cycles: each worker acquires and releases its own slot (one session each in session mode). */
export async function prepareUncontended(
  url: string,
  mode: LeaseMode,
  concurrency: number,
  tag: string,
): Promise<Runner> {
  const http = new HttpJson(url, concurrency, IDLE_SOCKET_MS);
  const sessions =
    mode === 'session' ? await Promise.all(times(concurrency, () => createSession(http, 300))) : [];
  return {
    op: async w => {
      await cycle(http, `${tag}-u-${mode}-${concurrency}-${w}`, acquireBody(w, sessions[w]));
      return undefined;
    },
    close: async () => {
      await Promise.allSettled(sessions.map(s => endSession(http, s)));
      http.close();
    },
  };
}

/** What a contended run measured: the loop (latency = time waiting for the grant), and more. */
export interface ContendedResult {
  loop: LoopResult;
  fairness: Fairness;
  capacity: number;
}

/**
 * `clients` workers contend for one slot of `capacity` in wait mode; each releases at once after
 * its grant and queues again. Latency = time from sending the acquire to the grant. `waitMs`
 * (default 20 s) is each acquire's wait; with `phase.warmupMs` > 0 an unmeasured loop runs first
 * (every client then has its connection and has been granted once).
 */
export async function contended(
  url: string,
  o: {
    clients: number;
    capacity: number;
    mode: LeaseMode;
    phase: Phase;
    slot: string;
    waitMs?: number;
    /** Distinct sessions the clients share (default: one per client). */
    sessions?: number;
    /** Spread each loop's first acquires over this long (client w starts at w/clients of it). */
    rampMs?: number;
  },
  probe?: Probe,
): Promise<ContendedResult> {
  // Idle sockets are closed by the client first (a warm-up leaves early finishers idle for long).
  const http = new HttpJson(url, o.clients, IDLE_SOCKET_MS);
  const waitMs = o.waitMs ?? 20_000;
  try {
    const loop = await withSessions(
      http,
      o.mode,
      o.clients,
      async sessions => {
        let ramped = new Set<number>();
        const op = async (w: number) => {
          if (o.rampMs !== undefined && !ramped.has(w)) {
            ramped.add(w);
            await new Promise(resolve => setTimeout(resolve, ((o.rampMs ?? 0) * w) / o.clients));
          }
          const started = performance.now();
          let waitedMs = 0;
          await cycle(
            http,
            o.slot,
            acquireBody(w, sessions[w], { waitMs, capacity: o.capacity }),
            () => {
              waitedMs = performance.now() - started;
            },
            waitMs + 10_000,
          );
          return waitedMs;
        };
        const loopOptions = { ...o.phase, concurrency: o.clients };
        if (o.phase.warmupMs > 0)
          await closedLoop({ ...loopOptions, durationMs: o.phase.warmupMs }, op);
        ramped = new Set<number>();
        return closedLoop(loopOptions, op, probe);
      },
      o.sessions,
    );
    return { loop, fairness: fairness(loop.perWorker), capacity: o.capacity };
  } finally {
    http.close();
  }
}
