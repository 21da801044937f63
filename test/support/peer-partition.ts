/**
 * Peer proxies for an etcd cluster, so a test can cut one member off from the quorum while clients
 * still reach it: the member stays up and serves (stale) watches, exactly the case a watch must
 * detect. No root, nft or namespace needed.
 *
 * Every member advertises its proxy as its peer URL. etcd's raft transport names the sending
 * member in the `X-Server-From` header of every request (stream, pipeline, snapshot), and one
 * keep-alive connection carries only one member's requests, so a proxy reads the first request's
 * headers of each connection and drops connections to or from the isolated member.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { listenOnFreePorts } from '../../src/embedded-etcd/free-port.js';
import type { EtcdMember } from '../../src/embedded-etcd/index.js';

interface Link {
  from: string | undefined;
  sockets: Socket[];
}

class PeerProxy {
  readonly links = new Set<Link>();
  private readonly server: Server;
  private closed = false;

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
    this.closed = true;
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
    // Tracked from the start: a connection whose head has not arrived yet must be cut by close()
    // too, or the server's close waits for it while the member keeps it open (a teardown hang).
    this.links.add(link);
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
      if (this.closed || !this.allowed(link.from)) {
        this.cut(link);
        return;
      }
      const upstream = connect({ port: this.targetPort, host: '127.0.0.1' });
      link.sockets.push(upstream);
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

/**
 * Peer proxies for a cluster started with `startEtcdCluster({ advertisePeerUrl: partition.hook })`:
 * every member advertises its proxy, and {@link PeerPartition.isolate} cuts one member off from
 * its peers in both directions while clients still reach it.
 */
export class PeerPartition {
  private readonly proxies = new Map<string, PeerProxy>();
  private readonly ids = new Map<string, string>();
  private isolated: string | undefined;

  /** For `startEtcdCluster`'s `advertisePeerUrl`: a proxy in front of `peerPort`. */
  readonly hook = async (name: string, peerPort: number): Promise<string> => {
    const [port] = await listenOnFreePorts(1, '127.0.0.1');
    if (port === undefined) throw new Error('no free port for a peer proxy');
    const proxy = new PeerProxy(port, peerPort, from => this.allowed(name, from));
    await proxy.listen();
    this.proxies.set(name, proxy);
    return `http://127.0.0.1:${port}`;
  };

  /** Learns each member's id (the `X-Server-From` its peers see); call once the cluster is up. */
  async learnIds(members: readonly EtcdMember[]): Promise<void> {
    for (const m of members) this.ids.set(m.name, await memberIdHex(m.clientUrl));
  }

  /** Cuts member `name` off from its peers (both directions); clients still reach it. */
  isolate(name: string): void {
    if (!this.ids.has(name)) throw new Error(`unknown member ${name} (call learnIds first)`);
    this.isolated = name;
    for (const p of this.proxies.values()) p.enforce();
  }

  heal(): void {
    this.isolated = undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map(p => p.close()));
  }

  private allowed(target: string, from: string | undefined): boolean {
    if (this.isolated === undefined) return true;
    if (target === this.isolated) return false;
    return from === undefined || from !== this.ids.get(this.isolated);
  }
}

async function memberIdHex(clientUrl: string): Promise<string> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    signal: AbortSignal.timeout(2000),
  });
  const body = (await res.json()) as { header?: { member_id?: string } };
  return BigInt(body.header?.member_id ?? '0').toString(16);
}
