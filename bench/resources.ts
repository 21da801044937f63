/**
 * Service resources from its own /metrics (process_cpu_seconds_total, process_resident_memory_bytes):
 * at idle, and while it holds many grants (session mode) with many waiters parked on them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpJson, expectStatus, stringField } from './http-client.js';
import { cpuDelta, heapUsedMb, rssMb, scrape, total } from './metrics-scrape.js';
import { times } from './load.js';

export interface IdleResult {
  cpuCores: number;
  rssMb: number;
  heapMb: number;
}

/** CPU and RSS of an idle service over `ms`. */
export async function idle(url: string, ms: number): Promise<IdleResult> {
  const before = await scrape(url);
  await sleep(ms);
  const after = await scrape(url);
  return {
    cpuCores: cpuDelta(before, after).cores,
    rssMb: rssMb(after),
    heapMb: heapUsedMb(after),
  };
}

export interface HeldResult {
  grants: number;
  waiters: number;
  /** Grants per second while the held grants were taken (concurrency 64). */
  acquirePerS: number;
  /** Waiters the service reported (slotlock_lock_waiting) when sampled. */
  waitingGauge: number;
  /** Waiting requests that ended (error or answer) before the sample was taken. */
  waiterFailures: number;
  firstWaiterFailure: string | undefined;
  rssMb: number;
  heapMb: number;
  /** CPU while holding and waiting, with no requests arriving. */
  cpuCores: number;
  timeMs: number;
}

async function createSession(http: HttpJson): Promise<{ token: string; id: string }> {
  const res = await http.request('POST', '/v1/sessions', { body: { ttlSeconds: 300 } });
  expectStatus(res, 201, 'POST /v1/sessions');
  return { token: stringField(res.body, 'session'), id: stringField(res.body, 'id') };
}

async function waitForGauge(
  url: string,
  accept: (waiting: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const waiting = total(await scrape(url), 'slotlock_lock_waiting');
    if (accept(waiting) || performance.now() > deadline) return waiting;
    await sleep(200);
  }
}

/**
 * Takes `grants` grants on distinct slots under a few sessions, parks `waiters` wait-mode acquires
 * on the first of those slots, samples CPU and RSS, then lets every waiter go and ends the sessions.
 */
export async function heldAndWaiting(
  url: string,
  o: { grants: number; waiters: number; tag: string; sampleMs: number },
): Promise<HeldResult> {
  const started = performance.now();
  const http = new HttpJson(url, 64);
  const waiterHttp = new HttpJson(url, o.waiters + 8);
  const sessions = await Promise.all(times(16, () => createSession(http)));
  try {
    let next = 0;
    const t0 = performance.now();
    const timeLimit = t0 + 120_000;
    await Promise.all(
      times(64, async w => {
        while (next < o.grants && performance.now() < timeLimit) {
          const i = next++;
          const session = sessions[i % sessions.length]?.token;
          const res = await http.request('POST', `/v1/slots/${o.tag}-held-${i}/grants`, {
            body: { holder: `holder-${w}`, session },
          });
          expectStatus(res, 201, 'held acquire');
        }
      }),
    );
    const acquirePerS = o.grants / ((performance.now() - t0) / 1000);

    const waiterSession = sessions[0]?.token;
    // Waiters arrive in batches (a burst of 1,000 connects would overflow the listen backlog).
    let leaving = false;
    const failures: string[] = [];
    const parked: Promise<void>[] = [];
    for (let j = 0; j < o.waiters; j++) {
      if (j > 0 && j % 50 === 0) await sleep(20);
      parked.push(
        waiterHttp
          .request('POST', `/v1/slots/${o.tag}-held-${j % o.grants}/grants`, {
            body: { holder: `waiter-${j}`, session: waiterSession, waitMs: 60_000 },
            timeoutMs: 70_000,
          })
          .then(
            res => {
              if (!leaving) failures.push(`HTTP ${res.status} ${JSON.stringify(res.body)}`);
            },
            (err: unknown) => {
              if (!leaving) failures.push(err instanceof Error ? err.message : String(err));
            },
          ),
      );
    }
    const waitingGauge = await waitForGauge(url, n => n >= o.waiters, 30_000);
    const before = await scrape(url);
    await sleep(o.sampleMs);
    const after = await scrape(url);

    // Waiters leave by closing their connections; the service removes their keys.
    leaving = true;
    waiterHttp.close();
    await Promise.all(parked);
    await waitForGauge(url, n => n === 0, 30_000);
    return {
      grants: o.grants,
      waiters: o.waiters,
      acquirePerS,
      waitingGauge,
      waiterFailures: failures.length,
      firstWaiterFailure: failures[0],
      rssMb: rssMb(after),
      heapMb: heapUsedMb(after),
      cpuCores: cpuDelta(before, after).cores,
      timeMs: performance.now() - started,
    };
  } finally {
    waiterHttp.close();
    await Promise.allSettled(
      sessions.map(s => http.request('DELETE', `/v1/sessions/${s.id}`, { bearer: s.token })),
    );
    http.close();
  }
}

/** RSS now (after a held phase has cleaned up). */
export async function currentRssMb(url: string): Promise<number> {
  return rssMb(await scrape(url));
}
