import type { Etcd3, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, IDuplexStream } from 'etcd3';
import { EtcdUnavailableError } from './errors.js';
import type { Metrics } from '../metrics.js';
import { translateEtcdError } from './client.js';

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface Pending {
  resolve: (ttlS: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** Its caller stopped waiting (timeout, abort): its answer, when it comes, is dropped. */
  abandoned: boolean;
  /** Removes the caller's abort listener. */
  unlisten: () => void;
}

/**
 * Renews leases by id over one shared keepalive stream, so any replica can renew any holder's
 * lease and no per-lease stream or timer lives in the process. `keepAlive` resolves with the TTL
 * etcd granted (0 when the lease is gone) or fails with `etcd_unavailable` within the deadline.
 *
 * etcd answers the requests of a stream one by one, in order, and its answers carry no request
 * id: the n-th answer for a lease belongs to the n-th request for it. A request whose caller gave
 * up therefore keeps its place in the queue, so its late answer is not credited to the next
 * request (whose `sentAt` is later: the time left would be overstated).
 */
export class LeaseKeeper {
  private stream: Promise<KeepAliveStream> | undefined;
  private readonly pending = new Map<string, Pending[]>();
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly metrics: Metrics,
    private readonly callTimeoutMs: number,
    private readonly retryAfterS: number,
  ) {}

  /** Sends one keepalive for `leaseId`; resolves with the new TTL in seconds, 0 if it expired. */
  async keepAlive(
    leaseId: string,
    opts: { signal?: AbortSignal | undefined } = {},
  ): Promise<number> {
    if (this.closed) throw new EtcdUnavailableError('the etcd client is closed', this.retryAfterS);
    const end = this.metrics.etcdDuration.startTimer({ op: 'lease_keepalive' });
    try {
      const stream = await this.openStream();
      opts.signal?.throwIfAborted();
      const ttl = await new Promise<number>((resolve, reject) => {
        const { signal } = opts;
        const onAbort = () => {
          abandon(signal?.reason as Error);
        };
        const entry: Pending = {
          resolve,
          reject,
          abandoned: false,
          unlisten: () => signal?.removeEventListener('abort', onAbort),
          timer: setTimeout(() => {
            abandon(
              new EtcdUnavailableError(
                `etcd did not answer a keepalive within ${this.callTimeoutMs} ms`,
                this.retryAfterS,
              ),
            );
          }, this.callTimeoutMs),
        };
        const abandon = (err: Error) => {
          if (entry.abandoned) return;
          entry.abandoned = true;
          clearTimeout(entry.timer);
          entry.unlisten();
          reject(err);
        };
        const queue = this.pending.get(leaseId) ?? [];
        queue.push(entry);
        this.pending.set(leaseId, queue);
        signal?.addEventListener('abort', onAbort, { once: true });
        stream.write({ ID: leaseId });
      });
      this.metrics.etcdRequests.inc({ op: 'lease_keepalive', outcome: 'ok' });
      return ttl;
    } catch (err) {
      const outcome = err instanceof EtcdUnavailableError ? 'unavailable' : 'error';
      this.metrics.etcdRequests.inc({ op: 'lease_keepalive', outcome });
      throw err;
    } finally {
      end();
    }
  }

  /** Ends the stream and fails every waiting keepalive. */
  close(): void {
    this.closed = true;
    this.reset(new EtcdUnavailableError('the etcd client is closing', this.retryAfterS));
  }

  private openStream(): Promise<KeepAliveStream> {
    if (this.stream !== undefined) return this.stream;
    const opening = this.client.leaseClient.leaseKeepAlive().then(stream => {
      stream.on('data', res => {
        // A replaced stream's late answers belong to requests that were already failed.
        if (this.stream !== opening) return;
        this.settle(res.ID, Number(res.TTL));
      });
      stream.on('error', err => {
        this.reset(translateEtcdError(err, 'lease_keepalive', this.retryAfterS));
      });
      stream.on('end', () => {
        this.reset(new EtcdUnavailableError('the etcd keepalive stream ended', this.retryAfterS));
      });
      return stream;
    });
    this.stream = opening;
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined;
    });
    return opening.catch((err: unknown) => {
      throw translateEtcdError(err, 'lease_keepalive', this.retryAfterS);
    });
  }

  /** The answer to the oldest request for `leaseId` still waiting (or abandoned) on this stream. */
  private settle(leaseId: string, ttlS: number): void {
    const queue = this.pending.get(leaseId);
    const entry = queue?.shift();
    if (queue?.length === 0) this.pending.delete(leaseId);
    if (entry === undefined || entry.abandoned) return;
    clearTimeout(entry.timer);
    entry.unlisten();
    entry.resolve(ttlS);
  }

  private reset(err: Error): void {
    const current = this.stream;
    this.stream = undefined;
    void current?.then(
      s => {
        s.cancel();
      },
      () => undefined,
    );
    for (const queue of this.pending.values()) {
      for (const entry of queue) {
        if (entry.abandoned) continue;
        clearTimeout(entry.timer);
        entry.unlisten();
        entry.reject(err);
      }
    }
    this.pending.clear();
  }
}
