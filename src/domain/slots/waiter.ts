import type { LeaseKeeper } from '../../etcd/lease-keeper.js';
import { asDomainError, DomainError } from '../errors.js';
import type { LocalWaiter } from './slot-queue.js';
import type { Handover } from '../grant.js';

export interface WaiterOptions {
  key: string;
  slot: string;
  capacity: number;
  waitMs: number;
  ttlS: number;
  /** The grant's own lease, kept alive while waiting; undefined when a client session owns it. */
  leaseId: string | undefined;
  leaseSentAt: number;
  leases: LeaseKeeper;
  retryAfterS: number;
  signal: AbortSignal | undefined;
}

/** Why a keepalive in flight is abandoned: the wait is over (made once, not per waiter). */
const settledReason = new Error('the wait is over');

/**
 * One waiting acquire. It settles exactly once: promoted (its key reached the first N), timed
 * out, aborted by its caller, or failed (key gone, etcd unreachable). While it waits it keeps its
 * per-grant lease alive every TTL/3 and remembers when the last keepalive was sent, so the
 * grant's time remaining is counted from before etcd last extended the lease.
 */
export class Waiter implements LocalWaiter {
  readonly key: string;
  readonly capacity: number;
  readonly promise: Promise<{ lastKeepAliveSentAt: number; handover: Handover | undefined }>;
  private settled = false;
  private lastKeepAliveSentAt: number;
  private resolve!: (v: { lastKeepAliveSentAt: number; handover: Handover | undefined }) => void;
  private reject!: (err: DomainError) => void;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Stops a keepalive in flight; only waiters with their own lease keep one alive. */
  private keepAliveAbort: AbortController | undefined;
  private readonly onAbort: () => void;

  constructor(private readonly o: WaiterOptions) {
    this.key = o.key;
    this.capacity = o.capacity;
    this.lastKeepAliveSentAt = o.leaseSentAt;
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.onAbort = () => {
      const reason: unknown = o.signal?.reason;
      this.fail(
        asDomainError(reason) ??
          new DomainError('wait_cancelled', 'the waiting request was cancelled by its caller'),
      );
    };
    if (o.signal?.aborted === true) {
      queueMicrotask(this.onAbort);
    } else {
      o.signal?.addEventListener('abort', this.onAbort, { once: true });
    }
    this.timers.push(
      setTimeout(() => {
        this.fail(
          new DomainError(
            'wait_timeout',
            `slot "${o.slot}" did not become free within ${o.waitMs} ms`,
            {
              retryAfterS: o.retryAfterS,
            },
          ),
        );
      }, o.waitMs),
    );
    if (o.leaseId !== undefined) this.scheduleKeepAlive(o.leaseId);
  }

  promote(_revision: string, handover: Handover | undefined): void {
    if (this.settle()) this.resolve({ lastKeepAliveSentAt: this.lastKeepAliveSentAt, handover });
  }

  fail(err: DomainError): void {
    if (this.settle()) this.reject(err);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    for (const t of this.timers) clearTimeout(t);
    this.keepAliveAbort?.abort(settledReason);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    return true;
  }

  private scheduleKeepAlive(leaseId: string): void {
    const interval = Math.max(200, Math.floor((this.o.ttlS * 1000) / 3));
    const timer = setTimeout(() => {
      void this.keepAlive(leaseId);
    }, interval);
    this.timers.push(timer);
  }

  private async keepAlive(leaseId: string): Promise<void> {
    if (this.settled) return;
    const sentAt = performance.now();
    try {
      this.keepAliveAbort ??= new AbortController();
      const ttl = await this.o.leases.keepAlive(leaseId, { signal: this.keepAliveAbort.signal });
      if (ttl <= 0) {
        this.fail(new DomainError('wait_cancelled', 'the waiting request lost its lease'));
        return;
      }
      this.lastKeepAliveSentAt = sentAt;
      this.scheduleKeepAlive(leaseId);
    } catch (err) {
      // The waiter may have settled while the keepalive was awaited.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (this.settled) return;
      this.fail(
        asDomainError(err) ??
          new DomainError('internal', `keeping the waiting lease alive failed: ${String(err)}`),
      );
    }
  }
}
