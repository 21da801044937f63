/**
 * Faults of etcd's ordinary life that hit watches (issue 13): dropped watch streams, compaction
 * past a disconnected replica's watch revision, and a member cut off from the quorum while replica
 * s1 watches through it. s1 reaches every member through a TCP proxy ({@link FaultContext.s1Proxies}),
 * so its connections can be dropped or refused while etcd itself stays healthy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdMember } from '../../../src/embedded-etcd/index.js';
import type { FaultContext } from './faults.js';
import { clusterHealthy, isolationLabel } from './faults.js';
import { heal, isolate } from './netns.js';
import { until } from './processes.js';
import { nowMs, type FaultRecord } from './records.js';

const portOf = (url: string): number => Number(new URL(url).port);

/** s1's watch restarts (by watch) and connected watch calls (by watch), from its /metrics. */
async function watchState(url: string) {
  const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) }).then(r =>
    r.text(),
  );
  const restarts: Record<string, number> = {};
  const connected: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^slotlock_etcd_(watch_restarts_total|watches_connected)\{(.*)\} (\S+)$/.exec(line);
    const watch = /watch="(\w+)"/.exec(m?.[2] ?? '')?.[1];
    if (m === null || watch === undefined) continue;
    const into = m[1] === 'watches_connected' ? connected : restarts;
    into[watch] = (into[watch] ?? 0) + Number(m[3]);
  }
  return { restarts, connected };
}

/** True when `member` says it has no leader (its own view, answered without the quorum). */
async function leaderless(member: EtcdMember): Promise<boolean> {
  const res = await fetch(`${member.clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    signal: AbortSignal.timeout(1000),
  });
  const body = (await res.json()) as { leader?: string };
  return body.leader === undefined || body.leader === '0';
}

/**
 * Drops every connection of s1 to etcd (its watch streams, and whatever call is in flight) six
 * times over `faultMs`: each watch must resume where it left off, or resync, without a waiter
 * stranded or a grant made twice.
 */
export async function dropWatchStreams(ctx: FaultContext): Promise<FaultRecord> {
  const start = nowMs();
  const drops = 6;
  for (let i = 0; i < drops; i++) {
    for (const p of ctx.s1Proxies) p.drop();
    await sleep(ctx.spec.faultMs / drops);
  }
  return {
    name: 'drop-watch-streams',
    target: 's1',
    start,
    end: nowMs(),
    detail: `${drops} drops of every s1 connection`,
  };
}

/**
 * Compaction during the run: twice, s1 is cut off from etcd (connections dropped and refused), etcd
 * compacts past s1's watch revisions while the workload goes on through s2, and s1 is let back in:
 * its watches must resync (one head read per slot with waiters) and grant its waiters. Between the
 * two, an auto-compaction with a short retention: every `faultMs / 6` etcd compacts up to the
 * revision it had one period before (what etcd's periodic compactor does).
 */
export async function compactions(ctx: FaultContext): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [await compactWhileCutOff(ctx, 1)];
  const start = nowMs();
  const period = ctx.spec.faultMs / 6;
  for (let i = 0; i < 6; i++) {
    await sleep(period);
    await ctx.compact();
  }
  records.push({
    name: 'auto-compaction',
    target: 'etcd',
    start,
    end: nowMs(),
    detail: `compacted to the head every ${Math.round(period)} ms, 6 times`,
  });
  records.push(await compactWhileCutOff(ctx, 2));
  return records;
}

async function compactWhileCutOff(ctx: FaultContext, n: number): Promise<FaultRecord> {
  const start = nowMs();
  for (const p of ctx.s1Proxies) p.down();
  let revision: string;
  try {
    // Let the workload move on through s2 for a moment, so s1's watches fall behind.
    await sleep(Math.min(1000, ctx.spec.faultMs / 3));
    revision = await ctx.compact();
  } finally {
    for (const p of ctx.s1Proxies) p.accepting();
  }
  return {
    name: 'compaction-while-cut-off',
    target: 's1',
    start,
    end: nowMs(),
    detail: `#${n}: compacted to revision ${revision} while s1 was cut off`,
  };
}

/**
 * A follower is cut off from its peers while s1 watches through it: s1 is first made to reach only
 * that member (connections to the others dropped and refused, so its watches reconnect there, as
 * s1's `slotlock_etcd_watches_connected` shows), then
 * the member is isolated (nft in a namespaced run, else peer proxies) and s1 may reach the others
 * again. The member loses its leader and cancels s1's watches (hasleader): they must move.
 */
export async function isolateWatchedMember(ctx: FaultContext): Promise<FaultRecord> {
  const leader = await ctx.cluster.leader({ timeoutMs: 20_000 });
  const member: EtcdMember | undefined = ctx.cluster.members.find(m => m !== leader);
  if (member === undefined) throw new Error('no follower');
  const index = ctx.cluster.members.indexOf(member);
  const others = ctx.s1Proxies.filter((_, i) => i !== index);
  const onlyThere = ctx.s1Proxies[index];
  if (onlyThere === undefined) throw new Error('no proxy for the follower');
  const peers = ctx.cluster.members.filter(m => m !== member).map(m => portOf(m.peerUrl));
  let start: number;
  const s1 = ctx.replicas[0];
  if (s1 === undefined) throw new Error('no replica s1');
  const before = await watchState(s1.url);
  for (const p of others) p.down();
  try {
    onlyThere.drop();
    // Both watches of s1 failed since, and are connected again: through the follower, the only
    // member s1 can reach.
    await until(
      "s1's watches re-created through the follower",
      async () => {
        const now = await watchState(s1.url);
        return ['slots', 'elections'].every(
          w => (now.restarts[w] ?? 0) > (before.restarts[w] ?? 0) && now.connected[w] === 1,
        );
      },
      20_000,
    );
    start = nowMs();
    if (ctx.netns) await isolate(index, portOf(member.peerUrl), peers);
    else if (ctx.partition !== undefined) ctx.partition.isolate(member.name);
    else await member.pause();
    // s1 may reach the others again once the member has lost its leader: until then every watch
    // of s1 stays on it, and etcd cancels them all a few election timeouts later.
    if (ctx.netns || ctx.partition !== undefined) {
      await until('the isolated member lost its leader', () => leaderless(member), 15_000);
    }
  } finally {
    for (const p of others) p.accepting();
  }
  try {
    await sleep(ctx.spec.faultMs);
  } finally {
    if (ctx.netns) await heal();
    else if (ctx.partition !== undefined) ctx.partition.heal();
    else member.resume();
  }
  const end = nowMs();
  await clusterHealthy(ctx.cluster);
  return {
    name: 'isolate-watched-member',
    target: `follower ${member.name} (s1 watching through it)`,
    start,
    end,
    detail: isolationLabel(ctx),
  };
}
