/**
 * What idle connections cost the service: RSS, V8 heap and CPU per 1,000 waiters parked on one
 * held slot, and per 1,000 SSE observers of one election with no leader changes. Each is measured
 * as the difference between the service with them and the same service just before (its own
 * /metrics), so the numbers are per added waiter or observer, not the service's base cost.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { HttpJson, expectStatus, stringField } from './http-client.js';
import { cpuDelta, heapUsedMb, rssMb, scrape, total } from './metrics-scrape.js';
import type { Context } from './scenarios.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Arrivals per batch: the next batch starts once the previous one is in (no connect burst). */
const BATCH = 200;

/** Idle cost of `n` waiters or observers, measured against the service just before they came. */
export interface IdleCost {
  n: number;
  rssBeforeMb: number;
  rssWithMb: number;
  heapBeforeMb: number;
  heapWithMb: number;
  /** Service CPU (cores) while idle without them, then with them. */
  cpuBeforeCores: number;
  cpuWithCores: number;
  /** How long it took to bring all of them in. */
  arriveMs: number;
}

/** RSS, heap and CPU added per 1,000 (CPU in % of a core). */
export function per1000(c: IdleCost): { rssMb: number; heapMb: number; cpuPct: number } {
  const k = 1000 / c.n;
  return {
    rssMb: (c.rssWithMb - c.rssBeforeMb) * k,
    heapMb: (c.heapWithMb - c.heapBeforeMb) * k,
    cpuPct: (c.cpuWithCores - c.cpuBeforeCores) * 100 * k,
  };
}

/**
 * CPU over `ms`, and the smallest RSS and V8 heap in use seen in scrapes 250 ms apart: the heap
 * right after a collection is the live heap (a single scrape also counts garbage not yet collected).
 */
async function sample(url: string, ms: number) {
  const before = await scrape(url);
  let last = before;
  let rss = rssMb(before);
  let heap = heapUsedMb(before);
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await sleep(250);
    last = await scrape(url);
    rss = Math.min(rss, rssMb(last));
    heap = Math.min(heap, heapUsedMb(last));
  }
  return { cores: cpuDelta(before, last).cores, rssMb: rss, heapMb: heap };
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms`);
    await sleep(100);
  }
}

const waiting = async (url: string) => total(await scrape(url), 'slotlock_lock_waiting');

/** `n` wait-mode acquires parked on one slot held by another client (all on one session). */
export async function idleWaiters(ctx: Context): Promise<IdleCost> {
  const n = ctx.quick ? 500 : 2000;
  const sampleMs = ctx.quick ? 1000 : 3000;
  const url = ctx.serviceUrl;
  const http = new HttpJson(url, 4);
  const waiterHttp = new HttpJson(url, n + 8);
  const slot = `${ctx.tag}-idle-waiters`;
  const s = await http.request('POST', '/v1/sessions', { body: { ttlSeconds: 300 } });
  expectStatus(s, 201, 'POST /v1/sessions');
  const session = { token: stringField(s.body, 'session'), id: stringField(s.body, 'id') };
  let leaving = false;
  const parked: Promise<unknown>[] = [];
  // A waiter answered or failed before the waiters leave makes the measurement void.
  const failures: string[] = [];
  try {
    const held = await http.request('POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'idle-holder', session: session.token },
    });
    expectStatus(held, 201, 'holder acquire');
    const base = await waiting(url);
    const before = await sample(url, sampleMs);
    const t0 = performance.now();
    for (let j = 0; j < n; j += BATCH) {
      for (let i = j; i < Math.min(n, j + BATCH); i++) {
        const p = waiterHttp.request('POST', `/v1/slots/${slot}/grants`, {
          // The service's WAIT_MAX_MS is 60 s in the bench.
          body: { holder: `idle-waiter-${i}`, session: session.token, waitMs: 60_000 },
          timeoutMs: 70_000,
        });
        parked.push(
          p.then(
            res => {
              if (!leaving) failures.push(`a waiter was answered: HTTP ${res.status}`);
            },
            (err: unknown) => {
              if (!leaving) failures.push(err instanceof Error ? err.message : String(err));
            },
          ),
        );
      }
      const expected = base + Math.min(n, j + BATCH);
      await waitUntil(
        `${expected} waiting`,
        async () => failures.length > 0 || (await waiting(url)) >= expected,
        30_000,
      );
      if (failures.length > 0) throw new Error(`${failures.length} waiters: ${failures[0] ?? ''}`);
    }
    const arriveMs = performance.now() - t0;
    const with_ = await sample(url, sampleMs);
    if (failures.length > 0) throw new Error(`${failures.length} waiters: ${failures[0] ?? ''}`);
    return {
      n,
      rssBeforeMb: before.rssMb,
      rssWithMb: with_.rssMb,
      heapBeforeMb: before.heapMb,
      heapWithMb: with_.heapMb,
      cpuBeforeCores: before.cores,
      cpuWithCores: with_.cores,
      arriveMs,
    };
  } finally {
    // Waiters leave by closing their connections; the service withdraws their keys.
    leaving = true;
    waiterHttp.close();
    await Promise.allSettled(parked);
    await http.request('DELETE', `/v1/sessions/${session.id}`, { bearer: session.token });
    http.close();
  }
}

/** `n` SSE observers of one election (no candidate: nothing is sent but keep-alive comments). */
export async function idleObservers(ctx: Context): Promise<IdleCost> {
  const n = ctx.quick ? 500 : 2000;
  const sampleMs = ctx.quick ? 1000 : 3000;
  const target = new URL(ctx.serviceUrl);
  const agent = new Agent({ keepAlive: false, maxSockets: n + 8 });
  const path = `/v1/elections/${ctx.tag}-idle-observed/observe`;
  const open: ClientRequest[] = [];
  const observe = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: Number(target.port), path, agent, method: 'GET' },
        res => {
          // The stream is idle by design (keep-alive comments only): no inactivity timeout.
          req.setTimeout(0);
          res.on('error', () => undefined);
          res.resume();
          if (res.statusCode === 200) resolve();
          else reject(new Error(`observe: HTTP ${res.statusCode ?? 0}`));
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('observe: no answer in 30 s')));
      req.end();
      open.push(req);
    });
  try {
    const before = await sample(ctx.serviceUrl, sampleMs);
    const t0 = performance.now();
    for (let j = 0; j < n; j += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, n - j) }, observe));
    }
    const arriveMs = performance.now() - t0;
    const with_ = await sample(ctx.serviceUrl, sampleMs);
    return {
      n,
      rssBeforeMb: before.rssMb,
      rssWithMb: with_.rssMb,
      heapBeforeMb: before.heapMb,
      heapWithMb: with_.heapMb,
      cpuBeforeCores: before.cores,
      cpuWithCores: with_.cores,
      arriveMs,
    };
  } finally {
    for (const req of open) req.destroy();
    agent.destroy();
  }
}
