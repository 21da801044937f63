import type { Etcd3 } from 'etcd3';
import type { Metrics } from '../metrics.js';
import { abortable } from './abortable.js';
import { EtcdCaller, LeaseGone, type CallOptions } from './etcd-caller.js';
import { EtcdRejectedError } from './errors.js';
import type { EtcdFaults } from './faults.js';
import { LeasesInFlight } from './leases-in-flight.js';
import type { BatchLimits } from './txn-batcher.js';
import {
  encodeLeaseGrant,
  encodeLeaseRevoke,
  leaseGrantMethod,
  leaseRevokeMethod,
} from './lease-codec.js';
import { rangeMethod, sendUnary } from './txn-call.js';
import { encodeRange, encodeTxn } from './txn-codec.js';
import { TxnSender, type EncodedTxn, type TxnAnswer } from './txn-send.js';
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

export type { CallOptions } from './etcd-caller.js';

/**
 * The only door to etcd's KV and lease RPCs. Every call carries the client's deadline, is timed in
 * `slotlock_etcd_request_duration_seconds`, counted in `slotlock_etcd_requests_total`, and fails
 * with a DomainError (`etcd_unavailable` when etcd is unreachable). Reads are linearizable.
 */
export class EtcdStore {
  private readonly caller: EtcdCaller;
  private readonly sender: TxnSender;
  private readonly inFlight = new LeasesInFlight();

  constructor(
    readonly client: Etcd3,
    private readonly metrics: Metrics,
    retryAfterS: number,
    batching: BatchLimits = { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY },
    /** Test-only injected faults (see {@link EtcdFaults}); never set from configuration. */
    faults: EtcdFaults = {},
  ) {
    this.caller = new EtcdCaller(metrics, retryAfterS, faults);
    this.sender = new TxnSender(client, this.caller, metrics, retryAfterS, batching);
  }

  /**
   * Runs one transaction. With `opts.group` (the prefix of every key of the one slot it touches) it
   * goes through group commit: under load it is sent together with other slots' transactions as
   * one etcd call (see {@link TxnBatcher}); it must then write only keys of that slot: under that
   * prefix, or named from a key under it (a grant's quota ledger key, a hash of its contender
   * key), and may compare or read other keys only if no batched transaction writes them.
   */
  async txn(
    t: Txn,
    opts: CallOptions & { group?: string | undefined } = {},
  ): Promise<{ succeeded: boolean; revision: string; results: TxnResult[] }> {
    const req: EncodedTxn = { bytes: encodeTxn(t), ops: opsOf(t) };
    const settled = this.inFlight.hold(leasesOf(t));
    let res: TxnAnswer;
    try {
      res = await this.sender.send(req, opts.group, opts.signal, settled);
    } catch (err) {
      const gaveUp = this.caller.callerGaveUp(err, 'txn', opts);
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
    return this.sender.queued;
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
  call<T>(
    op: string,
    opts: CallOptions,
    fn: () => Promise<T>,
    flags: { leaseGoneIsOk?: boolean } = {},
  ): Promise<T> {
    return this.caller.call(op, opts, fn, flags);
  }

  /**
   * True when `token` (a revision this store was just answered) is not above a revision this
   * replica saw before etcd's revision went back (a restore): it may repeat an earlier grant's.
   */
  tokenMayRepeat(token: string): boolean {
    return this.caller.watermark.mayRepeat(token);
  }

  /** The revision high-water etcd went back below (see {@link RevisionWatermark}), if it did. */
  get revisionWentBackBelow(): string | undefined {
    return this.caller.watermark.wentBackBelow;
  }
}

/** The leases a transaction's puts name (either branch may run). */
function leasesOf(t: Txn): string[] {
  const ids = new Set<string>();
  for (const op of [...t.success, ...(t.failure ?? [])]) {
    if ('put' in op && op.put.lease !== undefined && op.put.lease !== '0') ids.add(op.put.lease);
  }
  return [...ids];
}
