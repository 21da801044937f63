import type { Etcd3 } from 'etcd3';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Metrics } from '../metrics.js';
import { isLeaseNotFound, translateEtcdError } from './client.js';
import { abortable } from './abortable.js';
import { EtcdRejectedError, EtcdUnavailableError } from './errors.js';
import { InjectedLostAnswer, InjectedUnsent, type EtcdFaults } from './faults.js';
import { LeasesInFlight } from './leases-in-flight.js';
import { RevisionWatermark } from './revision-watermark.js';
import { MemberFailed, TxnBatcher, type BatchLimits } from './txn-batcher.js';
import {
  encodeLeaseGrant,
  encodeLeaseRevoke,
  leaseGrantMethod,
  leaseRevokeMethod,
} from './lease-codec.js';
import { rangeMethod, sendTxn, sendUnary } from './txn-call.js';
import { encodeBatch, encodeRange, encodeTxn, type WireResult } from './txn-codec.js';
import {
  fromWire,
  opsOf,
  type KeyValue,
  type RangeSpec,
  type Txn,
  type TxnResult,
} from './txn-wire.js';

export {
  rangeAt,
  toKeyValue,
  type Compare,
  type KeyValue,
  type RangeSpec,
  type Txn,
  type TxnOp,
  type TxnResult,
} from './txn-wire.js';

/** Options of every store call: a signal to stop waiting for the answer. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** What etcd answered to one transaction, on its own or nested in a batch. */
interface TxnAnswer {
  succeeded: boolean;
  revision: string;
  responses: WireResult[];
}

/** A transaction encoded for the wire, with its largest op list (see `BatchLimits.maxOps`). */
interface EncodedTxn {
  bytes: Uint8Array;
  ops: number;
}

/**
 * The only door to etcd's KV and lease RPCs. Every call carries the client's deadline, is timed in
 * `slotlock_etcd_request_duration_seconds`, counted in `slotlock_etcd_requests_total`, and fails
 * with a DomainError (`etcd_unavailable` when etcd is unreachable). Reads are linearizable.
 */
export class EtcdStore {
  private readonly batcher: TxnBatcher<EncodedTxn, TxnAnswer>;
  private readonly inFlight = new LeasesInFlight();
  private readonly watermark = new RevisionWatermark();

  constructor(
    readonly client: Etcd3,
    private readonly metrics: Metrics,
    private readonly retryAfterS: number,
    batching: BatchLimits = { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY },
    /** Test-only injected faults (see {@link EtcdFaults}); never set from configuration. */
    private readonly faults: EtcdFaults = {},
  ) {
    this.batcher = new TxnBatcher(batching, (reqs, deadlines) => this.sendBatch(reqs, deadlines), {
      observeBatch: size => {
        this.metrics.etcdTxnBatchSize.observe(size);
      },
      expired: () =>
        new EtcdUnavailableError(
          `etcd did not take the transaction within ${batching.deadlineMs ?? 0} ms (it waited for a free call); it was not applied`,
          this.retryAfterS,
        ),
      late: () =>
        new EtcdUnavailableError(
          `etcd did not answer the transaction within ${batching.deadlineMs ?? 0} ms; outcome unknown: it may have been applied`,
          this.retryAfterS,
          undefined,
          true,
        ),
      opsOf: req => req.ops,
    });
  }

  /**
   * Runs one transaction. With `opts.group` (the prefix of every key of the one slot it touches) it
   * goes through group commit: under load it is sent together with other slots' transactions as
   * one etcd call (see {@link TxnBatcher}); it must then write only keys under that prefix, and
   * may compare or read other keys only if no batched transaction writes them.
   */
  async txn(
    t: Txn,
    opts: CallOptions & { group?: string | undefined } = {},
  ): Promise<{ succeeded: boolean; revision: string; results: TxnResult[] }> {
    const req: EncodedTxn = { bytes: encodeTxn(t), ops: opsOf(t) };
    const settled = this.inFlight.hold(leasesOf(t));
    let res: TxnAnswer;
    try {
      if (opts.group === undefined) {
        // The call goes on after the caller stops waiting: its leases stay held until it ends.
        const sent = this.sendOne(req, {}, undefined);
        sent.then(settled, settled);
        res = await abortable(sent, opts.signal);
      } else {
        res = await this.batcher.submit(opts.group, req, opts.signal, settled);
      }
    } catch (err) {
      const gaveUp = this.callerGaveUp(err, 'txn', opts);
      if (gaveUp !== undefined) throw gaveUp;
      throw err;
    }
    const ops = res.succeeded ? t.success : (t.failure ?? []);
    return {
      succeeded: res.succeeded,
      revision: res.revision,
      results: res.responses.map((r, i) => fromWire(r, ops[i])),
    };
  }

  /** Transactions waiting to join the next group-commit batch. */
  get queuedTxns(): number {
    return this.batcher.queued;
  }

  /** One transaction as one etcd call. */
  private async sendOne(
    req: EncodedTxn,
    opts: CallOptions,
    options: { deadline: number } | undefined,
  ): Promise<TxnAnswer> {
    const one = await this.call('txn', opts, () =>
      sendTxn(this.client, req.bytes, options?.deadline),
    );
    return { succeeded: one.succeeded, revision: one.header.revision, responses: one.responses };
  }

  /**
   * One etcd call for a batch: a lone transaction as it is, several as nested transactions, sent
   * with the latest of their deadlines (each member waits only for its own, see TxnBatcher). When
   * etcd rejects the whole call (a nested put on a lease that is gone, too many operations), it
   * applied none of it: each member is then sent alone and fails or succeeds on its own.
   */
  private async sendBatch(
    reqs: EncodedTxn[],
    deadlines: (number | undefined)[],
  ): Promise<(TxnAnswer | MemberFailed)[]> {
    const latest = deadlines.includes(undefined) ? undefined : Math.max(...(deadlines as number[]));
    const options = latest === undefined ? undefined : { deadline: latest };
    const [only] = reqs;
    if (reqs.length === 1 && only !== undefined) {
      return [await this.sendOne(only, {}, options)];
    }
    let all;
    try {
      all = await this.call('txn', {}, () =>
        sendTxn(this.client, encodeBatch(reqs.map(r => r.bytes)), options?.deadline),
      );
    } catch (err) {
      if (!(err instanceof EtcdRejectedError)) throw err;
      return Promise.all(
        reqs.map((r, i) => {
          const d = deadlines[i];
          return this.sendOne(r, {}, d === undefined ? undefined : { deadline: d }).catch(
            (e: unknown) => new MemberFailed(e),
          );
        }),
      );
    }
    return all.responses.map((r, i) => {
      if (r.kind !== 'txn') {
        throw new Error(`batched transaction ${i} came back without its answer`);
      }
      const nested = r.txn;
      // Every nested transaction ran at the batch's revision (its writes took that revision).
      return {
        succeeded: nested.succeeded,
        revision: all.header.revision,
        responses: nested.responses,
      };
    });
  }

  /** A linearizable range read. */
  async range(
    spec: RangeSpec,
    opts: CallOptions = {},
  ): Promise<{ revision: string; kvs: KeyValue[]; count: number }> {
    const res = await this.call('range', opts, () =>
      sendUnary(this.client, rangeMethod, encodeRange(spec), undefined),
    );
    const r = fromWire({ kind: 'range', kvs: res.kvs, count: res.count }, { range: spec });
    if (r.kind !== 'range') throw new Error('a range answered something else');
    return { revision: res.header.revision, kvs: r.kvs, count: r.count };
  }

  /** Grants a lease of `ttlS` seconds and returns its id (decimal string). */
  async leaseGrant(ttlS: number, opts: CallOptions = {}): Promise<string> {
    const res = await this.call('lease_grant', opts, () =>
      sendUnary(this.client, leaseGrantMethod, encodeLeaseGrant(ttlS), undefined),
    );
    if (res.error !== '' || res.id === '0') {
      throw new EtcdRejectedError(`etcd refused the lease grant: ${res.error || 'no lease id'}`);
    }
    return res.id;
  }

  /**
   * Revokes a lease (deleting its keys). Returns false when it was already gone. Waits first
   * until no transaction in flight names the lease (see {@link LeasesInFlight}).
   */
  async leaseRevoke(id: string, opts: CallOptions = {}): Promise<boolean> {
    await abortable(this.inFlight.idle(id), opts.signal);
    try {
      await this.call(
        'lease_revoke',
        opts,
        () => sendUnary(this.client, leaseRevokeMethod, encodeLeaseRevoke(id), undefined),
        { leaseGoneIsOk: true },
      );
      return true;
    } catch (err) {
      if (err instanceof LeaseGone) return false;
      throw err;
    }
  }

  /**
   * Seconds left on a lease, rounded DOWN by etcd: 0 is a live lease with under a second left;
   * only -1 means the lease is gone.
   */
  async leaseTimeToLive(
    id: string,
    opts: CallOptions = {},
  ): Promise<{ ttlS: number; grantedTtlS: number }> {
    const res = await this.call('lease_ttl', opts, () =>
      this.client.leaseClient.leaseTimeToLive({ ID: id }),
    );
    return { ttlS: Number(res.TTL), grantedTtlS: Number(res.grantedTTL) };
  }

  /**
   * The alarms raised on any member of the cluster (`NOSPACE`, `CORRUPT`), e.g. for readiness.
   * Sets `slotlock_etcd_nospace_alarm` from the answer.
   */
  async alarms(opts: CallOptions = {}): Promise<string[]> {
    const res = await this.call('alarm', opts, () =>
      this.client.maintenance.alarm({ action: 'Get', memberID: '0', alarm: 'None' }),
    );
    // etcd3 names the alarms by its enum keys ('Nospace', 'Corrupt'): upper-case them as etcd does.
    const alarms = res.alarms.map(a => a.alarm.toUpperCase());
    this.metrics.etcdNoSpace.set(alarms.includes('NOSPACE') ? 1 : 0);
    return alarms;
  }

  private revisionKey = '\0';

  /**
   * Reads revisions with a count-only range of `key` instead of a key outside every prefix: an
   * etcd user whose role covers only ETCD_PREFIX may not range anything else.
   */
  readRevisionsAt(key: string): void {
    this.revisionKey = key;
  }

  /** etcd's current revision, read linearizably (used by readiness and to anchor watches). */
  async revision(opts: CallOptions = {}): Promise<string> {
    const res = await this.range({ key: this.revisionKey, countOnly: true }, opts);
    return res.revision;
  }

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
   * True when `token` (a revision this store was just answered) is not above a revision this
   * replica saw before etcd's revision went back (a restore): it may repeat an earlier grant's.
   */
  tokenMayRepeat(token: string): boolean {
    return this.watermark.mayRepeat(token);
  }

  /** The revision high-water etcd went back below (see {@link RevisionWatermark}), if it did. */
  get revisionWentBackBelow(): string | undefined {
    return this.watermark.wentBackBelow;
  }

  private observeRevision(result: unknown, seenAtSend: bigint): void {
    const header = (result as { header?: { revision?: string } | null } | null)?.header;
    if (header?.revision === undefined) return;
    if (this.watermark.observe(header.revision, seenAtSend)) {
      this.metrics.etcdRevisionWentBack.inc();
    }
    this.metrics.etcdRevision.set(Number(this.watermark.highWater));
  }

  /**
   * When `err` is the caller's own signal firing: a caller's deadline (e.g. the readiness probe's)
   * that passed is etcd being too slow (`etcd_unavailable`); a caller that went away is not etcd's
   * fault, is not counted, and keeps its reason. Otherwise undefined.
   */
  private callerGaveUp(err: unknown, op: string, opts: CallOptions): Error | undefined {
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
}

class LeaseGone extends Error {}

/** The leases a transaction's puts name (either branch may run). */
function leasesOf(t: Txn): string[] {
  const ids = new Set<string>();
  for (const op of [...t.success, ...(t.failure ?? [])]) {
    if ('put' in op && op.put.lease !== undefined && op.put.lease !== '0') ids.add(op.put.lease);
  }
  return [...ids];
}

function isTimeout(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'TimeoutError';
}
