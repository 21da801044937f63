/**
 * Acquire latency on an empty etcd against the same etcd filled with idle slots and fenced
 * records. A fresh etcd and a fresh slotlock service are started for it (so "empty" is empty);
 * acquire p50 at concurrency 1 is measured, then etcd is filled directly with etcd3 in batched txns
 * (an idle slot is its release marker `<p>s/<slot>#r`, left without a lease; a fenced record is
 * `<p>f/<slot>#v/<record>`), the service is given time to take in the watch events (until its CPU
 * is idle again), and acquire p50 is measured again. The fill is bounded in time; the row says how
 * many keys were written.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { HttpJson, expectStatus, stringField } from './http-client.js';
import { closedLoop } from './load.js';
import { cpuDelta, rssMb, scrape } from './metrics-scrape.js';
import { startEtcd, startService } from './procs.js';
import type { Context } from './scenarios.js';
import type { Summary } from './stats.js';

/** etcd's default --max-txn-ops is 128. */
const OPS_PER_TXN = 128;
const TXNS_IN_FLIGHT = 4;
const PREFIX = 'slotlock/';

export interface FillResult {
  /** Asked for (scaled down by --quick). */
  slotsAsked: number;
  recordsAsked: number;
  /** Written before the time bound. */
  slots: number;
  records: number;
  fillS: number;
  /** Until the service's CPU was idle again after the fill (NaN: not within the bound). */
  settleS: number;
  empty: Summary;
  filled: Summary;
  rssEmptyMb: number;
  rssFilledMb: number;
}

/** Acquire latency (ms) at concurrency 1: acquire timed, release not, one session. */
async function acquireP50(url: string, tag: string, warmupMs: number, durationMs: number) {
  const http = new HttpJson(url, 2);
  const s = await http.request('POST', '/v1/sessions', { body: { ttlSeconds: 300 } });
  expectStatus(s, 201, 'POST /v1/sessions');
  const session = { token: stringField(s.body, 'session'), id: stringField(s.body, 'id') };
  const op = async (): Promise<number> => {
    const t0 = performance.now();
    const got = await http.request('POST', `/v1/slots/${tag}/grants`, {
      body: { holder: 'growth', session: session.token },
    });
    expectStatus(got, 201, 'acquire');
    const ms = performance.now() - t0;
    const token = stringField(got.body, 'token');
    const released = await http.request('DELETE', `/v1/slots/${tag}/grants/${token}`, {
      bearer: stringField(got.body, 'secret'),
    });
    expectStatus(released, 204, 'release');
    return ms;
  };
  try {
    await closedLoop({ concurrency: 1, durationMs: warmupMs, maxOps: 100_000 }, op);
    const loop = await closedLoop({ concurrency: 1, durationMs, maxOps: 100_000 }, op);
    if (loop.ops === 0) throw new Error(`no acquire succeeded: ${loop.firstError ?? '?'}`);
    return loop.latency;
  } finally {
    await http.request('DELETE', `/v1/sessions/${session.id}`, { bearer: session.token });
    http.close();
  }
}

/** Writes `slots` release markers and `records` fenced records; stops at `deadline`. */
async function fill(
  etcdUrl: string,
  tag: string,
  slots: number,
  records: number,
  deadline: number,
) {
  const client = new Etcd3({ hosts: [etcdUrl] });
  const at = Date.now();
  const keyOf = (i: number): [string, string] =>
    i < slots
      ? [`${PREFIX}s/${tag}-idle-${i}#r`, JSON.stringify({ token: String(i + 1), at })]
      : [
          `${PREFIX}f/${tag}-idle-${i - slots}#v/record`,
          JSON.stringify({ token: String(i + 1), value: 'x'.repeat(64), at, owner: 'bench' }),
        ];
  const totalKeys = slots + records;
  let next = 0;
  let written = 0;
  try {
    await Promise.all(
      Array.from({ length: TXNS_IN_FLIGHT }, async () => {
        while (next < totalKeys && performance.now() < deadline) {
          const from = next;
          const end = Math.min(totalKeys, next + OPS_PER_TXN);
          next = end;
          const success = [];
          for (let i = from; i < end; i++) {
            const [key, value] = keyOf(i);
            success.push({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } });
          }
          await client.kv.txn({ compare: [], success, failure: [] });
          written += end - from;
        }
      }),
    );
  } finally {
    client.close();
  }
  return { slots: Math.min(written, slots), records: Math.max(0, written - slots) };
}

/** Waits until the service spends under 5 % of a core over 500 ms; NaN if not within `boundMs`. */
async function settle(url: string, boundMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < boundMs) {
    const before = await scrape(url);
    await sleep(500);
    if (cpuDelta(before, await scrape(url)).cores < 0.05) return (performance.now() - t0) / 1000;
  }
  return Number.NaN;
}

export async function fillComparison(ctx: Context): Promise<FillResult> {
  const slotsAsked = ctx.quick ? 10_000 : 100_000;
  const recordsAsked = ctx.quick ? 1_000 : 10_000;
  const dir = join(ctx.dir, 'growth-fill');
  await mkdir(dir, { recursive: true });
  const etcd = await startEtcd(dir);
  try {
    const service = await startService({
      etcdUrl: etcd.clientUrl,
      dir,
      name: 'slotlock',
      prefix: PREFIX,
    });
    try {
      const { warmupMs, durationMs } = ctx.phase;
      const empty = await acquireP50(service.url, `${ctx.tag}-fill-probe`, warmupMs, durationMs);
      const rssEmptyMb = rssMb(await scrape(service.url));
      const t0 = performance.now();
      const boundMs = ctx.quick ? 30_000 : 180_000;
      const written = await fill(etcd.clientUrl, ctx.tag, slotsAsked, recordsAsked, t0 + boundMs);
      const fillS = (performance.now() - t0) / 1000;
      ctx.log(
        `  filled ${written.slots} slots + ${written.records} records in ${fillS.toFixed(1)} s`,
      );
      const settleS = await settle(service.url, 60_000);
      const filled = await acquireP50(service.url, `${ctx.tag}-fill-probe`, warmupMs, durationMs);
      return {
        slotsAsked,
        recordsAsked,
        ...written,
        fillS,
        settleS,
        empty,
        filled,
        rssEmptyMb,
        rssFilledMb: rssMb(await scrape(service.url)),
      };
    } finally {
      await service.stop({ graceMs: 5000 });
    }
  } finally {
    await etcd.stop({ timeoutMs: 5000 });
  }
}
