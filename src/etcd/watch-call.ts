/**
 * One gRPC `Watch` call carrying exactly one watcher, opened by us on a host we choose. We do not
 * use etcd3's `Watcher`/`WatchManager` (1.1.2): it moves its resume revision to every response's
 * header revision (skipping undelivered catch-up events after a drop), its `cancel()` never
 * settles once etcd cancelled the watcher (compaction), and with several watchers on its shared
 * stream a server-side cancel makes it throw "Failed to find watcher" inside the gRPC data
 * handler, an uncaught exception. Here every watch owns its call: a failure or a cancel ends that
 * call only, closing it never waits for the library, and the caller owns the resume revision.
 * Its messages go through slotlock's own codec (watch-codec.ts), not etcd3's proto-loader objects.
 */
import type { Etcd3 } from 'etcd3';
import { poolOf, type GrpcMetadata } from './pool.js';
import { asBuffer } from './wire.js';
import {
  decodeWatchResponse,
  encodeWatchRequest,
  type WatchAnswer,
  type WatchCreate,
} from './watch-codec.js';

/** The parts of a grpc-js bidirectional stream we use. */
interface RawWatchStream {
  write(req: Uint8Array): boolean;
  cancel(): void;
  on(event: 'data', fn: (res: WatchAnswer) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
  on(event: 'end', fn: () => void): this;
}

/**
 * The part of a grpc-js client used here (etcd3's Watch service client is one): a bidi call
 * whose messages slotlock encodes and decodes itself ({@link encodeWatchRequest}).
 */
interface BidiClient {
  makeBidiStreamRequest(
    method: string,
    serialize: (value: Uint8Array) => Buffer,
    deserialize: (value: Buffer) => WatchAnswer,
    metadata: GrpcMetadata,
    options: object,
  ): RawWatchStream;
}

const WATCH_METHOD = '/etcdserverpb.Watch/Watch';

/** Hosts from `first` on, cycling; the pool skips a host whose circuit breaker is open. */
function* hostsFrom(hosts: unknown[], first: number): Generator {
  for (let i = first; ; i++) yield hosts[i % hosts.length];
}

type Next = { res: WatchAnswer } | { error: Error } | { ended: true };

let openCalls = 0;

/** Watch calls opened in this process and not yet closed (for tests and debugging). */
export function openWatchCalls(): number {
  return openCalls;
}

/**
 * An open watch call. {@link WatchCall.responses} yields etcd's responses in order and throws
 * when the stream fails or ends; {@link WatchCall.close} cancels the call at once.
 */
export class WatchCall {
  private readonly queue: Next[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly stream: RawWatchStream) {
    openCalls++;
    stream.on('data', res => {
      this.push({ res });
    });
    stream.on('error', error => {
      this.push({ error });
    });
    stream.on('end', () => {
      this.push({ ended: true });
    });
  }

  /**
   * Opens a call on host `hostIndex` (or the next one whose breaker is closed) and sends `create`.
   * With `requireLeader` the call carries `hasleader=true` (the Go client's WithRequireLeader):
   * a member without a leader refuses it, and cancels it once it has had no leader for a few
   * election timeouts, so a watch never sits silently on a member cut off from the quorum.
   */
  static async open(
    client: Etcd3,
    hostIndex: number,
    create: WatchCreate,
    requireLeader: boolean,
  ): Promise<WatchCall> {
    const pool = poolOf(client);
    const call = await pool.withConnection<BidiClient, WatchCall>(
      'Watch',
      ({ client: grpcClient, metadata }) => {
        const md = metadata.clone();
        if (requireLeader) md.set('hasleader', 'true');
        return new WatchCall(
          grpcClient.makeBidiStreamRequest(WATCH_METHOD, asBuffer, decodeWatchResponse, md, {}),
        );
      },
      hostsFrom(pool.hosts, hostIndex),
    );
    call.stream.write(encodeWatchRequest({ create }));
    return call;
  }

  /** etcd's responses, in order; throws the stream's error, or an error when it ends. */
  async *responses(signal: AbortSignal | undefined): AsyncGenerator<WatchAnswer> {
    const onAbort = () => this.wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (signal?.aborted !== true && !this.closed) {
        const next = this.queue.shift();
        if (next === undefined) {
          await new Promise<void>(resolve => {
            this.wake = resolve;
          });
          this.wake = undefined;
          continue;
        }
        if ('error' in next) throw next.error;
        if ('ended' in next) throw new Error('etcd ended the watch stream');
        yield next.res;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Cancels the call (idempotent); nothing is awaited. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    openCalls--;
    try {
      this.stream.cancel();
    } catch {
      // Already torn down by the transport: nothing left to cancel.
    }
    this.wake?.();
  }

  private push(next: Next): void {
    if (this.closed) return;
    this.queue.push(next);
    this.wake?.();
  }
}
