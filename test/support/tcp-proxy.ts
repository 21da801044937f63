/**
 * A loopback TCP proxy in front of one etcd client port, so a test can drop every connection
 * through it (gRPC streams die at once, the etcd member itself stays healthy), hold the answers
 * of etcd back, or refuse connections for a while.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private holding = false;
  private readonly held: (() => void)[] = [];
  private dropAfterAnswer = false;
  private loseAnswer = false;

  private readonly server: Server;
  private listeningPort = 0;

  private constructor(targetPort: number, host: string) {
    this.server = createServer(client => {
      this.accept(client, targetPort, host);
    });
  }

  /** Listens on a free loopback port and forwards every connection to `targetPort`. */
  static async start(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, host);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, host, resolve);
    });
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.listeningPort = address.port;
    return proxy;
  }

  /** The proxy's own port. */
  get port(): number {
    return this.listeningPort;
  }

  /** `http://127.0.0.1:<port>`, to use as an etcd endpoint. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** Destroys every open connection (both sides); new connections are accepted as before. */
  drop(): void {
    this.held.length = 0;
    this.holding = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Drops every connection and refuses (closes) new ones until {@link TcpProxy.accepting}. */
  down(): void {
    this.refusing = true;
    this.drop();
  }

  /** Accepts connections again after {@link TcpProxy.down}. */
  accepting(): void {
    this.refusing = false;
  }

  /** Stops forwarding what etcd sends (it is buffered, and discarded by {@link TcpProxy.drop}). */
  hold(): void {
    this.holding = true;
  }

  /**
   * Loses etcd's next answer to a unary call: what etcd sends is forwarded until a chunk ends a
   * gRPC message on a stream newer than every stream answered before (a txn, range or lease call,
   * not a watch event or keepalive); that chunk is discarded and every connection dropped. The
   * request was applied by etcd; its answer never arrives (an answer lost after commit).
   */
  loseNextAnswer(): void {
    this.loseAnswer = true;
  }

  /** Chunks etcd sent that are held back now (see {@link TcpProxy.hold}). */
  get heldChunks(): number {
    return this.held.length;
  }

  /** Forwards everything held, in order, and stops holding. */
  release(): void {
    this.holding = false;
    for (const write of this.held.splice(0)) write();
  }

  /**
   * Forwards what etcd sends up to the end of its next gRPC message (the next non-empty HTTP/2
   * DATA frame: on an otherwise idle client, the answer to the next request), then holds the rest
   * and drops every connection once that much is written.
   */
  dropAfterNextAnswer(): void {
    this.dropAfterAnswer = true;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>(resolve => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private accept(client: Socket, targetPort: number, host: string): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect({ port: targetPort, host });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', chunk => upstream.write(chunk));
    const frames = new FrameScanner();
    upstream.on('data', chunk => {
      const ends = frames.scan(chunk);
      if (this.loseAnswer && frames.newCall) {
        this.loseAnswer = false;
        this.drop();
      } else if (this.holding) {
        this.held.push(() => {
          client.write(chunk);
        });
      } else if (this.dropAfterAnswer && ends.length > 0) {
        this.dropAfterAnswer = false;
        this.holding = true;
        client.write(chunk.subarray(0, ends[0]), () => {
          this.drop();
        });
      } else {
        client.write(chunk);
      }
    });
  }
}

/** Follows HTTP/2 frame boundaries in what a server sends (no preface in that direction). */
class FrameScanner {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private inData = false;
  private stream = 0;
  /** The highest stream id a DATA frame has ended on so far. */
  private newest = 0;
  /** Whether a DATA frame ending in the last scanned chunk opened a new (unary) call's answer. */
  newCall = false;

  /** Offsets in `chunk` just past each non-empty DATA frame that ends in it. */
  scan(chunk: Buffer): number[] {
    const ends: number[] = [];
    this.newCall = false;
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0 && this.inData) {
          this.inData = false;
          ends.push(i);
          // Streams are numbered in creation order: a higher id than any answered before is a
          // call started after every open watch or keepalive stream (a txn, a range, a grant).
          if (this.stream > this.newest) {
            this.newest = this.stream;
            this.newCall = true;
          }
        }
        continue;
      }
      const take = chunk.subarray(i, i + 9 - this.header.length);
      this.header = Buffer.concat([this.header, take]);
      i += take.length;
      if (this.header.length < 9) break;
      this.remaining = this.header.readUIntBE(0, 3);
      this.inData = this.header[3] === 0 && this.remaining > 0;
      this.stream = this.header.readUInt32BE(5) & 0x7fffffff;
      this.header = Buffer.alloc(0);
    }
    return ends;
  }
}
