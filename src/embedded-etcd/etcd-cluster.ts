/** A local multi-member etcd cluster on loopback, for fault tests. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { listenOnFreePorts } from './free-port.js';
import { describeFailure, isHealthy, launch, pollUntil, type EtcdMember } from './etcd-member.js';

/** Options for {@link startEtcdCluster}; members live in `baseDir/<name>`. */
export interface EtcdClusterOptions {
  size: number;
  baseDir: string;
  heartbeatMs?: number | undefined;
  electionMs?: number | undefined;
  /** Aborting before the cluster is ready stops every member and rejects. */
  signal?: AbortSignal | undefined;
  /** Default 30 s. */
  readyTimeoutMs?: number | undefined;
  /**
   * Fault-test hook: the peer URL member `name` advertises (the URL its peers dial), given the port
   * it listens on for peers; e.g. a proxy that can cut it off. Default: the listen URL.
   */
  advertisePeerUrl?: ((name: string, peerPort: number) => Promise<string>) | undefined;
}

/** A local etcd cluster; `members` follows restarts, `endpoints` are the client URLs. */
export interface EtcdCluster {
  readonly members: EtcdMember[];
  readonly endpoints: string[];
  /** The member that says it leads, polling (default up to 10 s) while an election runs. */
  leader(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<EtcdMember>;
  /**
   * Stops every member (followers first) with a SIGTERM grace of `timeoutMs` (default 1 s) before
   * SIGKILL; resolves once all processes are gone.
   */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

interface MaintenanceStatus {
  header?: { member_id?: string; raft_term?: string };
  leader?: string;
}

async function claimsLeadership(member: EtcdMember, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(`${member.clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
    signal,
  });
  if (!res.ok) return false;
  const status = (await res.json()) as MaintenanceStatus;
  return status.leader !== undefined && status.leader === status.header?.member_id;
}

async function findLeader(members: EtcdMember[], signal: AbortSignal): Promise<EtcdMember> {
  let found: EtcdMember | undefined;
  await pollUntil(async probe => {
    const claim = async (member: EtcdMember): Promise<EtcdMember> => {
      if (await claimsLeadership(member, probe)) return member;
      throw new Error(`${member.name} does not lead`);
    };
    // The first member that says it leads wins; a paused member only costs its probe timeout.
    found = await Promise.any(members.map(claim)).catch(() => undefined);
    return found !== undefined;
  }, signal);
  if (found === undefined) throw new Error('no etcd leader found');
  return found;
}

/**
 * Stops followers, then the leader, each with a short SIGTERM grace. A leader told to stop tries to
 * hand leadership to a peer it still believes alive; with its peers going down too that attempt only
 * ends at etcd's request timeout (about 5 s), so the grace, not the transfer, bounds the teardown.
 * etcd syncs its WAL before acknowledging a write, so the SIGKILL after the grace loses nothing.
 */
async function stopFollowersFirst(members: EtcdMember[], timeoutMs: number): Promise<void> {
  const leads = await Promise.all(
    members.map(m => claimsLeadership(m, AbortSignal.timeout(500)).catch(() => false)),
  );
  const stop = (m: EtcdMember): Promise<void> => m.stop({ timeoutMs });
  await Promise.all(members.filter((_, i) => leads[i] !== true).map(stop));
  await Promise.all(members.filter((_, i) => leads[i] === true).map(stop));
}

/**
 * Starts `size` members in parallel with a shared `--initial-cluster` on fresh loopback ports and
 * resolves once every member's `/health` says true. On failure it stops all members and rejects.
 */
export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdCluster> {
  const host = '127.0.0.1';
  const ports = await listenOnFreePorts(opts.size * 2, host);
  const specs = Array.from({ length: opts.size }, (_, i) => ({
    name: `member-${i}`,
    clientPort: ports[2 * i] ?? 0,
    peerPort: ports[2 * i + 1] ?? 0,
  }));
  const advertise =
    opts.advertisePeerUrl ??
    ((_: string, port: number) => Promise.resolve(`http://${host}:${port}`));
  const advertised = await Promise.all(specs.map(s => advertise(s.name, s.peerPort)));
  const initialCluster = specs.map((s, i) => `${s.name}=${advertised[i] ?? ''}`).join(',');
  const clusterToken = `slotlock-${randomBytes(6).toString('hex')}`;
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const startSignal =
    opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline]);
  const started = await Promise.allSettled(
    specs.map((spec, i) =>
      launch({
        ...spec,
        host,
        advertisePeerUrl: advertised[i],
        dataDir: join(opts.baseDir, spec.name),
        logFile: join(opts.baseDir, `${spec.name}.log`),
        initialCluster,
        clusterToken,
        heartbeatMs: opts.heartbeatMs,
        electionMs: opts.electionMs,
        signal: startSignal,
        readyTimeoutMs: timeoutMs,
        waitFor: 'listening',
      }),
    ),
  );
  const members = started.flatMap(r => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = ({ timeoutMs: grace = 1000 }: { timeoutMs?: number } = {}): Promise<void> =>
    stopFollowersFirst(members, grace);
  try {
    const failed = started.find(r => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const exits = members.map(m => m.exitSignal);
    await pollUntil(
      async probe => {
        const health = await Promise.all(
          members.map(m => isHealthy(m.clientUrl, probe).catch(() => false)),
        );
        return health.every(Boolean);
      },
      AbortSignal.any([startSignal, ...exits]),
    );
  } catch (reason) {
    await stopAll();
    const tails = await Promise.all(members.map(async m => `${m.name}: ${await m.tail.read()}`));
    const message = describeFailure(reason, `cluster of ${opts.size}`, timeoutMs);
    throw new Error(`${message}; last etcd output:\n${tails.join('\n')}`, { cause: reason });
  }
  members.forEach((member, i) => {
    member.onReplaced = next => {
      members[i] = next;
    };
  });
  return {
    members,
    endpoints: members.map(m => m.clientUrl),
    leader: ({ signal, timeoutMs: leaderTimeoutMs = 10_000 } = {}) => {
      const deadlineSignal = AbortSignal.timeout(leaderTimeoutMs);
      const waitSignal =
        signal === undefined ? deadlineSignal : AbortSignal.any([signal, deadlineSignal]);
      return findLeader(members, waitSignal);
    },
    stop: stopAll,
  };
}
