/**
 * Two slotlock replicas sharing one etcd against one replica: uncontended session cycles at
 * concurrency 64 in total (64 clients on one replica; 32 + 32 on two), with the CPU of each replica
 * and of etcd from /proc, so the row can say what the limit is: etcd's CPU, the service's CPU, or
 * the machine's cores shared by all of them.
 */
import { cpus, loadavg } from 'node:os';
import { closedLoop, type LoopResult } from './load.js';
import { startService } from './procs.js';
import type { Context } from './scenarios.js';
import { prepareUncontended } from './slotlock-http.js';
import { UsageProbe, type Usage } from './usage.js';

export interface ReplicaRun {
  loop: LoopResult;
  usage: Usage | undefined;
}

export interface ReplicasResult {
  cores: number;
  one: ReplicaRun;
  two: [ReplicaRun, ReplicaRun];
  /** Cycles/s of the two replicas together. */
  twoRate: number;
  /** What bounds the aggregate rate here, judged from the CPU the probes saw. */
  limit: string;
}

function probe(ctx: Context, pid: number, url: string): UsageProbe {
  return new UsageProbe({ etcdPid: ctx.etcd.pid, serverPid: pid, metricsUrl: url });
}

/** Which resource is the limit: etcd's CPU, the service's CPU, or all the machine's cores. */
export function judgeLimit(cores: number, two: [ReplicaRun, ReplicaRun]): string {
  const [a, b] = two;
  if (a.usage === undefined || b.usage === undefined) return 'unknown (no CPU usage measured)';
  const svc = a.usage.svcCores + b.usage.svcCores;
  const etcd = a.usage.etcdCores;
  const gen = a.usage.genCores;
  const busy = svc + etcd + gen;
  const split = `replicas ${svc.toFixed(2)} + etcd ${etcd.toFixed(2)} + load generator ${gen.toFixed(2)} = ${busy.toFixed(2)} of ${cores} cores`;
  if (busy >= 0.85 * cores) {
    const top = svc >= etcd ? 'the replicas' : 'etcd';
    return `the machine's cores (${split}; ${top} take the largest share)`;
  }
  if (etcd >= 0.85) return `etcd CPU (${split})`;
  if (Math.max(a.usage.svcCores, b.usage.svcCores) >= 0.85) return `service CPU (${split})`;
  // Other work on the machine takes the cores these processes wait for.
  const load = loadavg()[0] ?? 0;
  if (load >= cores) {
    return `the machine's cores, taken by other work (load avg ${load.toFixed(1)} on ${cores} cores; ${split})`;
  }
  return `no CPU saturated: latency-bound (${split})`;
}

/** Measures one replica, starts a second on the same etcd and prefix, measures both together. */
export async function replicasComparison(ctx: Context): Promise<ReplicasResult> {
  const phase = ctx.phase;
  const loopOf = (concurrency: number, durationMs: number) => ({
    concurrency,
    durationMs,
    maxOps: phase.maxOps,
  });
  const one = await prepareUncontended(ctx.serviceUrl, 'session', 64, `${ctx.tag}-rep1`);
  let oneRun: ReplicaRun;
  try {
    await closedLoop(loopOf(64, phase.warmupMs), one.op);
    const p = probe(ctx, ctx.servicePid, ctx.serviceUrl);
    oneRun = { loop: await closedLoop(loopOf(64, phase.durationMs), one.op, p), usage: p.usage };
  } finally {
    await one.close();
  }
  const second = await startService({
    etcdUrl: ctx.etcd.url,
    dir: ctx.dir,
    name: 'slotlock-replica2',
    prefix: 'slotlock/',
    env: { WAIT_MAX_MS: '60000' },
  });
  ctx.children.push(second);
  try {
    const a = await prepareUncontended(ctx.serviceUrl, 'session', 32, `${ctx.tag}-rep2a`);
    const b = await prepareUncontended(second.url, 'session', 32, `${ctx.tag}-rep2b`);
    try {
      // The second replica is a fresh process (cold JIT): both warm up for at least 2 s.
      const warmupMs = Math.max(2000, phase.warmupMs);
      await Promise.all([a, b].map(r => closedLoop(loopOf(32, warmupMs), r.op)));
      const pa = probe(ctx, ctx.servicePid, ctx.serviceUrl);
      const pb = probe(ctx, second.pid, second.url);
      const [la, lb] = await Promise.all([
        closedLoop(loopOf(32, phase.durationMs), a.op, pa),
        closedLoop(loopOf(32, phase.durationMs), b.op, pb),
      ]);
      const two: [ReplicaRun, ReplicaRun] = [
        { loop: la, usage: pa.usage },
        { loop: lb, usage: pb.usage },
      ];
      return {
        cores: cpus().length,
        one: oneRun,
        two,
        twoRate: la.opsPerS + lb.opsPerS,
        limit: judgeLimit(cpus().length, two),
      };
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
    }
  } finally {
    await second.stop({ graceMs: 5000 });
  }
}
