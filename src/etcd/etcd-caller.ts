import { setTimeout as sleep } from 'node:timers/promises';
import type { Metrics } from '../metrics.js';
import { isLeaseNotFound, translateEtcdError } from './client.js';
import { abortable } from './abortable.js';
import { EtcdUnavailableError } from './errors.js';
import { InjectedLostAnswer, InjectedUnsent, type EtcdFaults } from './faults.js';
import { RevisionWatermark } from './revision-watermark.js';

/** Options of every store call: a signal to stop waiting for the answer. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** Thrown by {@link EtcdCaller.call} with `leaseGoneIsOk` when the lease named was already gone. */
export class LeaseGone extends Error {}

/**
 * The generic wrapper around every etcd call of an {@link EtcdStore}: times it in
 * `slotlock_etcd_request_duration_seconds`, counts it in `slotlock_etcd_requests_total`, applies
 * the injected test faults ({@link EtcdFaults}), feeds KV answers' revisions to the
 * {@link RevisionWatermark}, and translates failures into the adapter's errors (a caller that gave
 * up included, see {@link EtcdCaller.callerGaveUp}).
 */
export class EtcdCaller {
  /** The revision high-water of this replica's KV answers (see {@link RevisionWatermark}). */
  readonly watermark = new RevisionWatermark();

  constructor(
    private readonly metrics: Metrics,
    private readonly retryAfterS: number,
    /** Test-only injected faults (see {@link EtcdFaults}); never set from configuration. */
    private readonly faults: EtcdFaults = {},
  ) {}

  /** Times and counts `fn`, races it with `opts.signal`, and translates its errors. */
  async call<T>(
    op: string,
    opts: CallOptions,
    fn: () => Promise<T>,
    flags: { leaseGoneIsOk?: boolean } = {},
  ): Promise<T> {
    const end = this.metrics.etcdDuration.startTimer({ op });
    try {
      if (this.faults.failBeforeSend?.(op) === true) throw new InjectedUnsent(op);
      const delayMs = this.faults.delaySend?.(op) ?? 0;
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: opts.signal });
      const seenAtSend = this.watermark.beforeSend();
      const result = await abortable(fn(), opts.signal);
      // Only KV answers: their header revision is linearizable (lease and alarm answers' may not be).
      if (op === 'txn' || op === 'range') this.observeRevision(result, seenAtSend);
      const answerDelayMs = this.faults.delayAnswer?.(op) ?? 0;
      if (answerDelayMs > 0) await sleep(answerDelayMs);
      if (this.faults.loseAnswer?.(op) === true) throw new InjectedLostAnswer(op);
      this.metrics.etcdRequests.inc({ op, outcome: 'ok' });
      // A write went through: etcd's NOSPACE alarm (if this replica saw one) is disarmed.
      if (op === 'txn' || op === 'lease_grant') this.metrics.etcdNoSpace.set(0);
      return result;
    } catch (err) {
      if (flags.leaseGoneIsOk === true && isLeaseNotFound(err)) {
        this.metrics.etcdRequests.inc({ op, outcome: 'ok' });
        throw new LeaseGone();
      }
      const gaveUp = this.callerGaveUp(err, op, opts);
      if (gaveUp !== undefined) throw gaveUp;
      const translated = translateEtcdError(err, op, this.retryAfterS, op === 'txn');
      if (translated.code === 'etcd_nospace') this.metrics.etcdNoSpace.set(1);
      this.metrics.etcdRequests.inc({
        op,
        outcome: translated.code === 'etcd_unavailable' ? 'unavailable' : 'error',
      });
      throw translated;
    } finally {
      end();
    }
  }

  /**
   * When `err` is the caller's own signal firing: a caller's deadline (e.g. the readiness probe's)
   * that passed is etcd being too slow (`etcd_unavailable`); a caller that went away is not etcd's
   * fault, is not counted, and keeps its reason. Otherwise undefined.
   */
  callerGaveUp(err: unknown, op: string, opts: CallOptions): Error | undefined {
    if (opts.signal?.aborted !== true || err !== opts.signal.reason) return undefined;
    if (!isTimeout(err)) return err as Error;
    this.metrics.etcdRequests.inc({ op, outcome: 'unavailable' });
    const unknown = op === 'txn';
    return new EtcdUnavailableError(
      `etcd did not answer ${op} within the caller's deadline` +
        (unknown ? '; outcome unknown: it may have been applied' : ''),
      this.retryAfterS,
      err,
      unknown,
    );
  }

  private observeRevision(result: unknown, seenAtSend: bigint): void {
    const header = (result as { header?: { revision?: string } | null } | null)?.header;
    if (header?.revision === undefined) return;
    if (this.watermark.observe(header.revision, seenAtSend)) {
      this.metrics.etcdRevisionWentBack.inc();
    }
    this.metrics.etcdRevision.set(Number(this.watermark.highWater));
  }
}

function isTimeout(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'TimeoutError';
}
