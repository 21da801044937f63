/**
 * Dispatch bundles: clients that each need a driver AND a vehicle from a small pool, either as one
 * bundle (POST /v1/bundles, all or nothing, FIFO across slots) or by taking the two slots one by
 * one in a fixed order (driver, then vehicle; the safe way without bundles). Latency = time from
 * the first request until both slots are held; each client releases at once and goes again.
 */
import { HttpJson, expectStatus, stringField } from './http-client.js';
import { closedLoop, type LoopResult, type Phase, type Probe } from './load.js';

export interface BundleBenchOptions {
  clients: number;
  drivers: number;
  vehicles: number;
  phase: Phase;
  tag: string;
}

const enc = (slot: string) => encodeURIComponent(slot);
const pick = (n: number) => Math.floor(Math.random() * n);
const body = (w: number) => ({ holder: `bench-${w}`, ttlSeconds: 10, waitMs: 20_000 });

/** One bundle of a random driver and vehicle, released at once; returns the wait in ms. */
async function bundleCycle(http: HttpJson, o: BundleBenchOptions, w: number): Promise<number> {
  const started = performance.now();
  const slots = [
    { slot: `${o.tag}-bd-${pick(o.drivers)}` },
    { slot: `${o.tag}-bv-${pick(o.vehicles)}` },
  ];
  const got = await http.request('POST', '/v1/bundles', { body: { ...body(w), slots } });
  expectStatus(got, 201, 'bundle acquire');
  const waited = performance.now() - started;
  const released = await http.request('DELETE', `/v1/bundles/${stringField(got.body, 'token')}`, {
    bearer: stringField(got.body, 'secret'),
  });
  expectStatus(released, 204, 'bundle release');
  return waited;
}

/** The same two slots taken one by one (driver first, then vehicle), both released at once. */
async function orderedCycle(http: HttpJson, o: BundleBenchOptions, w: number): Promise<number> {
  const started = performance.now();
  const slots = [`${o.tag}-od-${pick(o.drivers)}`, `${o.tag}-ov-${pick(o.vehicles)}`];
  const held: { slot: string; token: string; secret: string }[] = [];
  try {
    for (const slot of slots) {
      const got = await http.request('POST', `/v1/slots/${enc(slot)}/grants`, { body: body(w) });
      expectStatus(got, 201, 'acquire');
      held.push({
        slot,
        token: stringField(got.body, 'token'),
        secret: stringField(got.body, 'secret'),
      });
    }
    return performance.now() - started;
  } finally {
    await Promise.all(
      held.map(async g => {
        const released = await http.request(
          'DELETE',
          `/v1/slots/${enc(g.slot)}/grants/${g.token}`,
          { bearer: g.secret },
        );
        expectStatus(released, 204, 'release');
      }),
    );
  }
}

/** Runs one of the two ways for one phase (warm-up first, its numbers dropped). */
export async function bundlesContended(
  url: string,
  way: 'bundle' | 'ordered',
  o: BundleBenchOptions,
  probe?: Probe,
): Promise<LoopResult> {
  const http = new HttpJson(url, o.clients);
  const cycle = way === 'bundle' ? bundleCycle : orderedCycle;
  try {
    const loop = { ...o.phase, concurrency: o.clients };
    await closedLoop({ ...loop, durationMs: o.phase.warmupMs }, w => cycle(http, o, w));
    return await closedLoop(loop, w => cycle(http, o, w), probe);
  } finally {
    http.close();
  }
}
