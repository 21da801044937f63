import type { Etcd3, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, IDuplexStream } from 'etcd3';
import { EtcdUnavailableError } from './errors.js';
import type { Metrics } from '../metrics.js';
import { translateEtcdError } from './client.js';

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface Pending {
  resolve: (ttlS: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Renews leases by id over one shared keepalive stream, so any replica can renew any holder's
 * lease and no per-lease stream or timer lives in the process. `keepAlive` resolves with the TTL
 * etcd granted (0 when the lease is gone) or fails with `etcd_unavailable` within the deadline.
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
      const ttl = await new Promise<number>((resolve, reject) => {
        const entry: Pending = {
          resolve,
          reject,
          timer: setTimeout(() => {
            this.drop(leaseId, entry);
            reject(
              new EtcdUnavailableError(
                `etcd did not answer a keepalive within ${this.callTimeoutMs} ms`,
                this.retryAfterS,
              ),
            );
          }, this.callTimeoutMs),
        };
        const queue = this.pending.get(leaseId) ?? [];
        queue.push(entry);
        this.pending.set(leaseId, queue);
        opts.signal?.addEventListener(
          'abort',
          () => {
            this.drop(leaseId, entry);
            clearTimeout(entry.timer);
            reject(opts.signal?.reason as Error);
          },
          { once: true },
        );
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

  private settle(leaseId: string, ttlS: number): void {
    const queue = this.pending.get(leaseId);
    const entry = queue?.shift();
    if (queue?.length === 0) this.pending.delete(leaseId);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    entry.resolve(ttlS);
  }

  private drop(leaseId: string, entry: Pending): void {
    const queue = this.pending.get(leaseId);
    if (queue === undefined) return;
    const index = queue.indexOf(entry);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.pending.delete(leaseId);
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
        clearTimeout(entry.timer);
        entry.reject(err);
      }
    }
    this.pending.clear();
  }
}
