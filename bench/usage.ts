/**
 * What a measured loop cost: CPU of the server under test (slotlock or the naive REST server) and
 * of etcd from /proc, CPU of this load-generating process, and slotlock's RSS and etcd requests from
 * its /metrics, so a table row shows whether the 2 cores were saturated and by whom.
 */
import type { Probe } from './load.js';
import { etcdRequestDelta, rssMb, scrape, type Scrape } from './metrics-scrape.js';
import { procCpuSeconds } from './procs.js';

export interface Usage {
  wallS: number;
  /** CPU of the server under test, in cores; NaN without one. */
  svcCores: number;
  svcCpuSeconds: number;
  svcRssMb: number;
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

  async end(): Promise<void> {
    const b = this.before;
    if (b === undefined) return;
    const wallS = (performance.now() - b.at) / 1000;
    const etcd = procCpuSeconds(this.t.etcdPid);
    const server = this.serverCpu() - b.server;
    const gen = process.cpuUsage(b.gen);
    const svc = this.t.metricsUrl === undefined ? undefined : await scrape(this.t.metricsUrl);
    this.usage = {
      wallS,
      svcCores: server / wallS,
      svcCpuSeconds: server,
      svcRssMb: svc === undefined ? Number.NaN : rssMb(svc),
      etcdCores: (etcd - b.etcd) / wallS,
      genCores: (gen.user + gen.system) / 1e6 / wallS,
      etcdRequests:
        b.svc !== undefined && svc !== undefined ? etcdRequestDelta(b.svc, svc) : undefined,
    };
  }

  /** The server's CPU seconds from /proc (the same source for slotlock and the naive server). */
  private serverCpu(): number {
    return this.t.serverPid === undefined ? Number.NaN : procCpuSeconds(this.t.serverPid);
  }
}
