/**
 * A 3-member etcd cluster whose peer traffic runs through proxies, so a test can cut one member off
 * from the quorum while clients still reach it: the member stays up and serves (stale) watches,
 * exactly the case a watch must detect. No root, nft or namespace needed.
 *
 * Every member advertises its proxy as its peer URL. etcd's raft transport names the sending
 * member in the `X-Server-From` header of every request (stream, pipeline, snapshot), and one
 * keep-alive connection carries only one member's requests, so a proxy reads the first request's
 * headers of each connection and drops connections to or from the isolated member.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { listenOnFreePorts } from '../../src/embedded-etcd/free-port.js';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { until } from './poll.js';

interface Link {
  from: string | undefined;
  sockets: Socket[];
}

class PeerProxy {
  readonly links = new Set<Link>();
  private readonly server: Server;

  constructor(
    readonly port: number,
    private readonly targetPort: number,
    private readonly allowed: (from: string | undefined) => boolean,
  ) {
    this.server = createServer(socket => {
      this.accept(socket);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  /** Drops the connections the current partition forbids. */
  enforce(): void {
    for (const link of this.links) if (!this.allowed(link.from)) this.cut(link);
  }

  close(): Promise<void> {
    for (const link of this.links) this.cut(link);
    return new Promise(resolve => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private cut(link: Link): void {
    for (const s of link.sockets) s.destroy();
    this.links.delete(link);
  }

  private accept(client: Socket): void {
    const link: Link = { from: undefined, sockets: [client] };
    let head = Buffer.alloc(0);
    client.on('error', () => {
      this.cut(link);
    });
    client.on('close', () => {
      this.cut(link);
    });
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const text = head.toString('latin1');
      if (!text.includes('\r\n\r\n') && head.length < 16_384) return;
      client.off('data', onHead);
      link.from = /\r\nX-Server-From: *([0-9a-f]+)/i.exec(text)?.[1]?.toLowerCase();
      if (!this.allowed(link.from)) {
        client.destroy();
        return;
      }
      const upstream = connect({ port: this.targetPort, host: '127.0.0.1' });
      link.sockets.push(upstream);
      this.links.add(link);
      upstream.on('error', () => {
        this.cut(link);
      });
      upstream.on('close', () => {
        this.cut(link);
      });
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    client.on('data', onHead);
  }
}

/** The cluster: members (in order), and the partition controls. */
export interface PartitionableCluster {
  members: EtcdMember[];
  /** Cuts member `index` off from its peers (both directions); clients still reach it. */
  isolate(index: number): void;
  heal(): void;
  /** The member that leads, as the majority sees it. */
  leaderIndex(): Promise<number>;
  stop(): Promise<void>;
}

async function memberIdHex(clientUrl: string): Promise<string> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    signal: AbortSignal.timeout(2000),
  });
  const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
  return BigInt(body.header?.member_id ?? '0').toString(16);
}

async function leaderIdHex(clientUrl: string): Promise<string | undefined> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    signal: AbortSignal.timeout(1000),
  });
  const body = (await res.json()) as { leader?: string };
  return body.leader === undefined || body.leader === '0'
    ? undefined
    : BigInt(body.leader).toString(16);
}

/** Starts 3 members in `dir` behind peer proxies and resolves once every one is healthy. */
export async function startPartitionableCluster(
  dir: string,
  opts: { heartbeatMs?: number; electionMs?: number } = {},
): Promise<PartitionableCluster> {
  const names = ['p0', 'p1', 'p2'];
  const ports = await listenOnFreePorts(names.length * 3, '127.0.0.1');
  const spec = names.map((name, i) => ({
    name,
    clientPort: ports[3 * i] ?? 0,
    peerPort: ports[3 * i + 1] ?? 0,
    proxyPort: ports[3 * i + 2] ?? 0,
  }));
  const ids: (string | undefined)[] = names.map(() => undefined);
  let isolated: number | undefined;
  const allowedInto = (target: number) => (from: string | undefined) =>
    isolated === undefined ||
    (target !== isolated && (from === undefined || from !== ids[isolated]));
  const proxies = spec.map((s, i) => new PeerProxy(s.proxyPort, s.peerPort, allowedInto(i)));
  await Promise.all(proxies.map(p => p.listen()));
  const initialCluster = spec.map(s => `${s.name}=http://127.0.0.1:${s.proxyPort}`).join(',');
  const clusterToken = `partition-${randomBytes(4).toString('hex')}`;
  const members: EtcdMember[] = [];
  const stop = async () => {
    await Promise.all(members.map(m => m.stop({ timeoutMs: 2000 })));
    await Promise.all(proxies.map(p => p.close()));
  };
  try {
    const started = await Promise.all(
      spec.map(s =>
        startEtcdMember({
          name: s.name,
          dataDir: join(dir, s.name),
          logFile: join(dir, `${s.name}.log`),
          clientPort: s.clientPort,
          peerPort: s.peerPort,
          advertisePeerUrl: `http://127.0.0.1:${s.proxyPort}`,
          initialCluster,
          clusterToken,
          heartbeatMs: opts.heartbeatMs,
          electionMs: opts.electionMs,
          waitFor: 'listening',
          readyTimeoutMs: 30_000,
        }),
      ),
    );
    members.push(...started);
    const healthy = async (m: EtcdMember) => {
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    };
    await until(
      'the partitionable cluster healthy',
      async () => {
        const health = await Promise.all(members.map(m => healthy(m).catch(() => false)));
        return health.every(Boolean) ? true : undefined;
      },
      30_000,
    );
    for (const [i, m] of members.entries()) ids[i] = await memberIdHex(m.clientUrl);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    members,
    isolate: index => {
      isolated = index;
      for (const p of proxies) p.enforce();
    },
    heal: () => {
      isolated = undefined;
    },
    leaderIndex: async () => {
      const majority = members.filter((_, i) => i !== isolated);
      const leader = await until(
        'a leader',
        async () => {
          for (const m of majority) {
            const id = await leaderIdHex(m.clientUrl).catch(() => undefined);
            if (id !== undefined) return id;
          }
          return undefined;
        },
        10_000,
      );
      return ids.indexOf(leader);
    },
    stop,
  };
}
