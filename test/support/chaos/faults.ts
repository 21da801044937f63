/**
 * The faults a scenario injects. Each returns what it did as {@link FaultRecord}s. Waiting for
 * something to happen (a key to expire, a member to be healthy) polls with a deadline; only the
 * fault's own length (how long a member stays down or paused) is a timer.
 */
import type { Etcd3 } from 'etcd3';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdCluster, EtcdMember } from '../../../src/embedded-etcd/index.js';
import { heal, isolate } from './netns.js';
import { until, type Replica } from './processes.js';
import { appendJsonLine, nowMs, type FaultRecord, type OpRecord } from './records.js';
import type { ReplicaClient } from './replica-client.js';
import type { ScenarioSpec } from './scenarios.js';
import type { TcpProxy } from '../tcp-proxy.js';
import type { PeerPartition } from '../peer-partition.js';
import { compactions, dropWatchStreams, isolateWatchedMember } from './watch-faults.js';
import { loseAnswers, noSpace } from './etcd-life-faults.js';

/** A workload client process as the fault driver sees it. */
export interface ClientHandle {
  proc: string;
  pid: number;
  running: boolean;
}

/** A grant a client announced on stdout. */
export interface GrantEvent {
  proc: string;
  name: string;
  capacity: number;
  token: string;
  key: string;
  fenced: boolean;
}

export interface FaultContext {
  spec: ScenarioSpec;
  netns: boolean;
  cluster: EtcdCluster;
  replicas: Replica[];
  clients: ClientHandle[];
  etcd: Etcd3;
  /** SIGSTOPs the client that announces the next grant matching `pred`, as it announces it. */
  stopOnGrant(pred: (g: GrantEvent) => boolean, timeoutMs: number): Promise<GrantEvent>;
  /** An HTTP client recording as `proc` (the fault driver's own requests). */
  http(proc: string): ReplicaClient;
  historyFile(proc: string): string;
  /** Registers a slot the fault driver uses, with its capacity (for the checkers). */
  addSlot(name: string, capacity: number): void;
  slotPrefix(name: string): string;
  /** Replica s1's connections to each member go through these (see watch-faults.ts). */
  s1Proxies: TcpProxy[];
  /** Peer proxies that isolate a member when the run has no namespace (else nft does). */
  partition: PeerPartition | undefined;
  /** Keeps the scenario's history so far for the checkers, then compacts etcd up to now. */
  compact(): Promise<string>;
}

export async function injectFault(ctx: FaultContext): Promise<FaultRecord[]> {
  const s = ctx.spec;
  switch (s.fault) {
    case 'none':
      return [];
    case 'kill-member':
      return [await killMember(ctx)];
    case 'pause-member':
      return [await pauseMember(ctx)];
    case 'isolate-member':
      return [await isolateMember(ctx)];
    case 'kill-replica':
      return [await killReplica(ctx)];
    case 'pause-client':
      return [await pauseClient(ctx)];
    case 'drop-watch-streams':
      return [await dropWatchStreams(ctx)];
    case 'compaction':
      return compactions(ctx);
    case 'isolate-watched-member':
      return [await isolateWatchedMember(ctx)];
    case 'lose-answers':
      return [await loseAnswers(ctx)];
    case 'nospace':
      return [await noSpace(ctx)];
    case 'lease-expiry-wait':
      return [
        await leaseLostWhileWaiting(ctx, 'expire'),
        await leaseLostWhileWaiting(ctx, 'revoke'),
      ];
  }
}

async function target(ctx: FaultContext): Promise<{ member: EtcdMember; index: number }> {
  const leader = await ctx.cluster.leader({ timeoutMs: 20_000 });
  const member =
    ctx.spec.target === 'follower' ? ctx.cluster.members.find(m => m !== leader) : leader;
  if (member === undefined) throw new Error('no member to hit');
  return { member, index: ctx.cluster.members.indexOf(member) };
}

async function healthy(member: EtcdMember): Promise<boolean> {
  const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1500) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

/** Waits until every member says it is healthy (it has a leader and can serve). */
export async function clusterHealthy(cluster: EtcdCluster, timeoutMs = 30_000): Promise<void> {
  await until(
    'every etcd member healthy',
    async () => (await Promise.all(cluster.members.map(healthy))).every(Boolean),
    timeoutMs,
  );
}

async function killMember(ctx: FaultContext): Promise<FaultRecord> {
  const { member } = await target(ctx);
  const start = nowMs();
  await member.kill();
  await sleep(ctx.spec.faultMs);
  await member.restart({ readyTimeoutMs: 30_000 });
  await clusterHealthy(ctx.cluster);
  return {
    name: 'kill-member',
    target: `${ctx.spec.target ?? 'leader'} ${member.name}`,
    start,
    end: nowMs(),
  };
}

async function pauseMember(ctx: FaultContext): Promise<FaultRecord> {
  const { member } = await target(ctx);
  const start = nowMs();
  await member.pause();
  try {
    await sleep(ctx.spec.faultMs);
  } finally {
    member.resume();
  }
  const end = nowMs();
  await clusterHealthy(ctx.cluster);
  return {
    name: 'pause-member',
    target: `${ctx.spec.target ?? 'leader'} ${member.name}`,
    start,
    end,
  };
}

const portOf = (url: string): number => Number(new URL(url).port);

async function isolateMember(ctx: FaultContext): Promise<FaultRecord> {
  const { member, index } = await target(ctx);
  const others = ctx.cluster.members.filter(m => m !== member).map(m => portOf(m.peerUrl));
  const start = nowMs();
  if (ctx.netns) await isolate(index, portOf(member.peerUrl), others);
  else if (ctx.partition !== undefined) ctx.partition.isolate(member.name);
  else await member.pause();
  try {
    await sleep(ctx.spec.faultMs);
  } finally {
    if (ctx.netns) await heal();
    else if (ctx.partition !== undefined) ctx.partition.heal();
    else member.resume();
  }
  const end = nowMs();
  await clusterHealthy(ctx.cluster);
  const how = isolationLabel(ctx);
  return {
    name: 'isolate-member',
    target: `${ctx.spec.target ?? 'leader'} ${member.name}`,
    start,
    end,
    detail: how,
  };
}

/** How a member is isolated in this run. */
export function isolationLabel(ctx: FaultContext): string {
  if (ctx.netns) return 'nft peer isolation';
  return ctx.partition === undefined ? 'SIGSTOP (no netns)' : 'peer proxies cut its connections';
}

async function killReplica(ctx: FaultContext): Promise<FaultRecord> {
  const replica = ctx.replicas[0];
  if (replica === undefined) throw new Error('no replica');
  const start = nowMs();
  await replica.kill();
  await sleep(ctx.spec.faultMs);
  await replica.start();
  return { name: 'kill-replica', target: replica.name, start, end: nowMs() };
}

async function exists(etcd: Etcd3, key: string): Promise<boolean> {
  return etcd.get(key).exists();
}

/** Contender keys of a slot, oldest first, with their leases. */
async function contenders(ctx: FaultContext, slot: string) {
  const res = await ctx.etcd.getAll().prefix(ctx.slotPrefix(slot)).exec();
  return res.kvs
    .map(kv => ({ key: kv.key.toString(), create: BigInt(kv.create_revision), lease: kv.lease }))
    .sort((a, b) => (a.create < b.create ? -1 : 1));
}

/**
 * Kleppmann's paused holder: SIGSTOP a client right after it announced an exclusive grant, keep it
 * stopped until etcd deleted its key (lease expired) and a newer contender exists, then resume it.
 * It goes on with its cycle: its late fenced writes must be refused.
 */
async function pauseClient(ctx: FaultContext): Promise<FaultRecord> {
  let grant: GrantEvent | undefined;
  let pid = -1;
  for (let attempt = 1; grant === undefined; attempt++) {
    const g = await ctx.stopOnGrant(x => x.capacity === 1 && x.fenced, 20_000);
    pid = ctx.clients.find(c => c.proc === g.proc)?.pid ?? -1;
    // A holder that had already let go by the time it stopped is no paused holder: try again.
    if (await exists(ctx.etcd, g.key)) grant = g;
    else process.kill(pid, 'SIGCONT');
    if (grant === undefined && attempt >= 5) throw new Error('no holder could be paused holding');
  }
  const held = grant;
  const start = nowMs();
  try {
    await until(
      `key of token ${held.token} expired`,
      async () => !(await exists(ctx.etcd, held.key)),
      ctx.spec.ttlS * 1000 + 20_000,
    );
    const newer = async () =>
      (await contenders(ctx, held.name)).some(c => c.create > BigInt(held.token));
    await until('a newer contender', newer, 10_000).catch(() => undefined);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  return {
    name: 'pause-client',
    target: held.proc,
    start,
    end: nowMs(),
    detail: `token ${held.token} on ${held.name}`,
  };
}

/**
 * etcd #11456: a waiter's lease ends while it waits. A (via s2) holds an exclusive slot, B waits
 * via s1; s1 is stopped; A releases; B's lease then expires ("expire", TTL 2 s) or is revoked early
 * ("revoke", TTL 5 s); s1 resumes and sees both deletes. B must not be granted a deleted key with
 * time left on its deadline.
 */
async function leaseLostWhileWaiting(
  ctx: FaultContext,
  variant: 'expire' | 'revoke',
): Promise<FaultRecord> {
  const slot = `${ctx.spec.id}-w-${variant}`;
  ctx.addSlot(slot, 1);
  const path = `/v1/slots/${slot}/grants`;
  const base = { space: 'slot', name: slot, capacity: 1, method: 'POST', path } as const;
  const grantFields = (b: any): Partial<OpRecord> => ({
    token: b.token,
    expiresInMs: b.expiresInMs,
  });
  const a = ctx.http('runner-a');
  const b = ctx.http('runner-b');
  const held = await a.send({
    ...base,
    kind: 'acquire',
    body: { holder: 'runner-a', ttlSeconds: 10, capacity: 1, waitMs: 0 },
    replica: 1,
    timeoutMs: 10_000,
    annotate: grantFields,
  });
  if (held.rec.outcome !== 'ok') throw new Error(`A could not acquire ${slot}: ${held.rec.status}`);
  const aKey = (await contenders(ctx, slot))[0]?.key;
  const bTtl = variant === 'expire' ? 2 : 5;
  const waiting = b.send({
    ...base,
    kind: 'acquire',
    body: { holder: 'runner-b', ttlSeconds: bTtl, capacity: 1, waitMs: 20_000 },
    replica: 0,
    timeoutMs: 40_000,
    annotate: grantFields,
  });
  let queued: { key: string; lease: string } | undefined;
  await until(
    'B queued behind A',
    async () => {
      queued = (await contenders(ctx, slot))[1];
      return queued !== undefined;
    },
    10_000,
  );
  const s1 = ctx.replicas[0];
  if (s1 === undefined || queued === undefined) throw new Error('no replica s1');
  const bKey = queued;
  const start = nowMs();
  s1.signal('SIGSTOP');
  try {
    await a.send({
      ...base,
      method: 'DELETE',
      kind: 'release',
      path: `${path}/${held.rec.token ?? ''}`,
      secret: held.body.secret,
      replica: 1,
      timeoutMs: 10_000,
      fields: { token: held.rec.token, key: aKey },
    });
    if (variant === 'expire') {
      await until(
        'B lease expired',
        async () => !(await exists(ctx.etcd, bKey.key)),
        bTtl * 1000 + 20_000,
      );
    } else {
      await revoke(ctx, b, slot, bKey.lease);
    }
  } finally {
    s1.signal('SIGCONT');
  }
  const end = nowMs();
  const answer = await waiting;
  return {
    name: `lease-${variant}-while-waiting`,
    target: 's1',
    start,
    end,
    detail: `waiter answered ${answer.rec.status}${answer.rec.code === undefined ? '' : ` ${answer.rec.code}`}`,
  };
}

async function revoke(
  ctx: FaultContext,
  http: ReplicaClient,
  slot: string,
  lease: string,
): Promise<void> {
  const invoke = nowMs();
  const res = await ctx.etcd.leaseClient.leaseRevoke({ ID: lease });
  const rec: OpRecord = {
    proc: http.proc,
    seq: http.nextSeq(),
    kind: 'revoke',
    space: 'slot',
    name: slot,
    capacity: 1,
    replica: 'etcd',
    invoke,
    complete: nowMs(),
    status: 200,
    outcome: 'ok',
    revision: res.header.revision,
  };
  appendJsonLine(ctx.historyFile(http.proc), rec);
}
