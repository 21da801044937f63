/**
 * What a measured loop cost: CPU of the server under test (slotlock or the naive REST server) and
 * of etcd from /proc, CPU of this load-generating process, and slotlock's RSS and etcd requests from
 * its /metrics, so a table row shows whether the 2 cores were saturated and by whom.
 */
import type { Probe } from './load.js';
import { etcdRequestDelta, heapUsedMb, rssMb, scrape, type Scrape } from './metrics-scrape.js';
import { procCpuSeconds } from './procs.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SETTLE_MS = 150;

export interface Usage {
  wallS: number;
  /** CPU of the server under test, in cores; NaN without one. */
  svcCores: number;
  svcCpuSeconds: number;
  svcRssMb: number;
  svcHeapMb: number;
  etcdCores: number;
  /** This process (the load generator and, for peers, the client library). */
  genCores: number;
  /** etcd requests slotlock made during the loop, total and by kind. */
  etcdRequests: { total: number; byOp: Record<string, number> } | undefined;
}

/** Which processes to watch: the server under test (pid, and /metrics if it is slotlock) and etcd. */
export interface UsageTargets {
  etcdPid: number;
  serverPid?: number | undefined;
  metricsUrl?: string | undefined;
}

interface Before {
  at: number;
  svc: Scrape | undefined;
  server: number;
  etcd: number;
  gen: NodeJS.CpuUsage;
}

export class UsageProbe implements Probe {
  usage: Usage | undefined;
  private before: Before | undefined;
  private readonly totals: {
    wallS: number;
    serverS: number;
    etcdS: number;
    genS: number;
    requests: { total: number; byOp: Record<string, number> } | undefined;
  } = { wallS: 0, serverS: 0, etcdS: 0, genS: 0, requests: undefined };

  constructor(private readonly t: UsageTargets) {}

  async start(): Promise<void> {
    const svc = this.t.metricsUrl === undefined ? undefined : await scrape(this.t.metricsUrl);
    this.before = {
      at: performance.now(),
      svc,
      server: this.serverCpu(),
      etcd: procCpuSeconds(this.t.etcdPid),
      gen: process.cpuUsage(),
    };
  }

  /** Adds this window to the totals (a probe may be started and ended once per round). */
  async end(): Promise<void> {
    const b = this.before;
    if (b === undefined) return;
    this.before = undefined;
    const wallS = (performance.now() - b.at) / 1000;
    // Work a cycle leaves behind (slotlock revokes a released grant's lease after answering) is
    // charged to this window: CPU and requests are read a moment after it ends.
    if (this.t.metricsUrl !== undefined) await sleep(SETTLE_MS);
    const etcdS = procCpuSeconds(this.t.etcdPid) - b.etcd;
    const serverS = this.serverCpu() - b.server;
    const gen = process.cpuUsage(b.gen);
    const svc = this.t.metricsUrl === undefined ? undefined : await scrape(this.t.metricsUrl);
    const req = b.svc !== undefined && svc !== undefined ? etcdRequestDelta(b.svc, svc) : undefined;
    const t = this.totals;
    t.wallS += wallS;
    t.serverS += serverS;
    t.etcdS += etcdS;
    t.genS += (gen.user + gen.system) / 1e6;
    if (req !== undefined) {
      t.requests ??= { total: 0, byOp: {} };
      t.requests.total += req.total;
      for (const [op, n] of Object.entries(req.byOp)) {
        t.requests.byOp[op] = (t.requests.byOp[op] ?? 0) + n;
      }
    }
    this.usage = {
      wallS: t.wallS,
      svcCores: t.serverS / t.wallS,
      svcCpuSeconds: t.serverS,
      svcRssMb: svc === undefined ? Number.NaN : rssMb(svc),
      svcHeapMb: svc === undefined ? Number.NaN : heapUsedMb(svc),
      etcdCores: t.etcdS / t.wallS,
      genCores: t.genS / t.wallS,
      etcdRequests: t.requests,
    };
  }

  /** The server's CPU seconds from /proc (the same source for slotlock and the naive server). */
  private serverCpu(): number {
    return this.t.serverPid === undefined ? Number.NaN : procCpuSeconds(this.t.serverPid);
  }
}
