import type { Etcd3 } from 'etcd3';
import type { Metrics } from '../metrics.js';
import { abortable } from './abortable.js';
import type { EtcdCaller } from './etcd-caller.js';
import { EtcdRejectedError, EtcdUnavailableError } from './errors.js';
import { MemberFailed, TxnBatcher, type BatchLimits } from './txn-batcher.js';
import { sendTxn } from './txn-call.js';
import { encodeBatch, type WireResult } from './txn-codec.js';

/** What etcd answered to one transaction, on its own or nested in a batch. */
export interface TxnAnswer {
  succeeded: boolean;
  revision: string;
  responses: WireResult[];
}

/** A transaction encoded for the wire, with its largest op list (see `BatchLimits.maxOps`). */
export interface EncodedTxn {
  bytes: Uint8Array;
  ops: number;
}

/**
 * Sends an {@link EtcdStore}'s encoded transactions to etcd: alone as one call each, or through
 * group commit ({@link TxnBatcher}) as nested transactions of one call, every call going through
 * the store's {@link EtcdCaller} (timing, counting, faults, error translation).
 */
export class TxnSender {
  private readonly batcher: TxnBatcher<EncodedTxn, TxnAnswer>;

  constructor(
    private readonly client: Etcd3,
    private readonly caller: EtcdCaller,
    metrics: Metrics,
    retryAfterS: number,
    batching: BatchLimits,
  ) {
    this.batcher = new TxnBatcher(batching, (reqs, deadlines) => this.sendBatch(reqs, deadlines), {
      observeBatch: size => {
        metrics.etcdTxnBatchSize.observe(size);
      },
      expired: () =>
        new EtcdUnavailableError(
          `etcd did not take the transaction within ${batching.deadlineMs ?? 0} ms (it waited for a free call); it was not applied`,
          retryAfterS,
        ),
      late: () =>
        new EtcdUnavailableError(
          `etcd did not answer the transaction within ${batching.deadlineMs ?? 0} ms; outcome unknown: it may have been applied`,
          retryAfterS,
          undefined,
          true,
        ),
      opsOf: req => req.ops,
    });
  }

  /**
   * Sends `req`: without a `group` as one etcd call of its own, which goes on after `signal`
   * fires; with one through group commit. Either way `settled` is called once the transaction is
   * settled in etcd (answered, failed, or never sent).
   */
  send(
    req: EncodedTxn,
    group: string | undefined,
    signal: AbortSignal | undefined,
    settled: () => void,
  ): Promise<TxnAnswer> {
    if (group === undefined) {
      // The call goes on after the caller stops waiting: its leases stay held until it ends.
      const sent = this.sendOne(req, undefined);
      sent.then(settled, settled);
      return abortable(sent, signal);
    }
    return this.batcher.submit(group, req, signal, settled);
  }

  /** Transactions waiting to join the next group-commit batch. */
  get queued(): number {
    return this.batcher.queued;
  }

  /** One transaction as one etcd call. */
  private async sendOne(
    req: EncodedTxn,
    options: { deadline: number } | undefined,
  ): Promise<TxnAnswer> {
    const one = await this.caller.call('txn', {}, () =>
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
      return [await this.sendOne(only, options)];
    }
    let all;
    try {
      all = await this.caller.call('txn', {}, () =>
        sendTxn(this.client, encodeBatch(reqs.map(r => r.bytes)), options?.deadline),
      );
    } catch (err) {
      if (!(err instanceof EtcdRejectedError)) throw err;
      return Promise.all(
        reqs.map((r, i) => {
          const d = deadlines[i];
          return this.sendOne(r, d === undefined ? undefined : { deadline: d }).catch(
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
}
