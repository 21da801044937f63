import type { Logger } from 'pino';
import type { ContenderSpace, KeyLayout } from '../../etcd/keys.js';
import type { EtcdStore, TxnOp } from '../../etcd/store.js';
import { rangeAt } from '../../etcd/store.js';
import type { Metrics } from '../../metrics.js';
import { DomainError } from '../errors.js';
import {
  decodeFencedRecord,
  encodeFencedRecord,
  judgeWrite,
  type FencedValue,
  type WriteView,
} from './fencing.js';
import { decodeHolder, type FencingToken } from '../grant.js';
import { holderKey } from '../bundles/bundle.js';
import { ownerProbe } from '../ownership.js';
import { blockedAhead, blockedAheadOps } from '../slots/lock-delay.js';
import type { FencedLedger } from './fenced-ledger.js';
import { fencedRejection, markerToken } from './fenced-rejection.js';

/** A write to a fenced record, made by the holder of grant `token` (proved by `secret`). */
export interface FencedWrite {
  slot: string;
  record: string;
  token: FencingToken;
  secret: string;
  value: string;
  /** The principal writing (its storage quota is charged). */
  principal: string;
  /** Seconds until the record (and its ledger entries) expire; absent: kept until deleted. */
  ttlS?: number | undefined;
}

/** A delete of a fenced record by the holder of grant `token` (proved by `secret`). */
export type FencedDelete = Omit<FencedWrite, 'value' | 'ttlS' | 'principal'>;

export interface FencedStoreDeps {
  store: EtcdStore;
  keys: KeyLayout;
  space: ContenderSpace;
  metrics: Metrics;
  log: Logger;
  /** Per-slot and per-principal storage limits, counted in etcd. */
  ledger: FencedLedger;
  /** Read-then-compare-and-set rounds before a write that keeps losing to concurrent writes gives up. */
  maxAttempts?: number;
}

/**
 * A resource inside etcd that checks fencing tokens: a record of a slot is written only while the
 * writer's grant still exists and its token is not lower than the token that last wrote the
 * record. Both conditions hold at the same etcd revision as the put, so a holder paused past its
 * lease cannot write after a newer holder has been granted or has written.
 */
export class FencedStore {
  private readonly maxAttempts: number;

  constructor(private readonly d: FencedStoreDeps) {
    this.maxAttempts = d.maxAttempts ?? 8;
  }

  /**
   * Writes `w.value` with `w.token`; resolves with the record's new mod revision. Fails with
   * `stale_token` (a higher token won; `winningToken` says which), `grant_gone` (the grant ended
   * and nothing newer exists), `not_holder`, `invalid_input` (a future token) or
   * `acquire_in_progress` (concurrent writes kept winning the compare-and-set).
   */
  async write(w: FencedWrite, opts: { signal?: AbortSignal } = {}): Promise<{ revision: string }> {
    // A record with a TTL lives on its own lease (its ledger entries too): etcd removes all three.
    const lease = w.ttlS === undefined ? undefined : await this.d.store.leaseGrant(w.ttlS, opts);
    try {
      const out = await this.writeOnce(w, lease, opts.signal);
      this.d.metrics.fencedWrites.inc({ outcome: 'applied' });
      return out;
    } catch (err) {
      if (lease !== undefined) {
        this.d.store.leaseRevoke(lease).catch(() => undefined);
      }
      this.countRejection(w, err);
      throw err;
    }
  }

  /**
   * Deletes a fenced record, with the same checks as a write: the caller holds grant `token` and
   * the record was not written with a higher token. `not_found` when there is no such record.
   */
  async remove(
    d: FencedDelete,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ revision: string }> {
    const key = this.d.keys.fencedRecord(d.slot, d.record);
    const own = holderKey(this.d.space, d.slot, d.secret);
    for (let attempt = 1; ; attempt++) {
      const { view, oldest, releasedToken } = await this.readForWrite(
        d,
        key,
        own,
        undefined,
        opts.signal,
      );
      if (view.record === undefined) {
        throw new DomainError(
          'not_found',
          `record "${d.record}" of slot "${d.slot}" does not exist`,
        );
      }
      const verdict = judgeWrite(d.token, view);
      if (verdict.kind !== 'ok') {
        const err = await fencedRejection(
          this.d,
          d,
          verdict,
          view,
          oldest,
          releasedToken,
          opts.signal,
        );
        this.countRejection(d, err);
        throw err;
      }
      const res = await this.d.store.txn(
        {
          compare: [
            { key: own, target: 'create', op: '==', value: d.token },
            { key, target: 'mod', op: '==', value: view.record.modRevision },
          ],
          success: [
            { delete: { key } },
            ...this.d.ledger.deleteOps(d.slot, d.record, view.record.owner),
          ],
        },
        opts,
      );
      if (res.succeeded) return { revision: res.revision };
      if (attempt >= this.maxAttempts) throw this.contended(d, attempt);
    }
  }

  /** Reads a fenced record linearizably; `not_found` when it was never written. */
  async read(
    slot: string,
    record: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<FencedValue> {
    const res = await this.d.store.range({ key: this.d.keys.fencedRecord(slot, record) }, opts);
    const kv = res.kvs[0];
    const body = kv === undefined ? undefined : decodeFencedRecord(kv);
    if (kv === undefined || body === undefined) {
      throw new DomainError('not_found', `record "${record}" of slot "${slot}" was never written`);
    }
    return { slot, record, ...body, revision: kv.modRevision };
  }

  private async writeOnce(
    w: FencedWrite,
    lease: string | undefined,
    signal: AbortSignal | undefined,
  ) {
    const key = this.d.keys.fencedRecord(w.slot, w.record);
    const own = holderKey(this.d.space, w.slot, w.secret);
    const bytes = Buffer.byteLength(w.value);
    for (let attempt = 1; ; attempt++) {
      const { view, oldest, releasedToken, ledger } = await this.readForWrite(
        w,
        key,
        own,
        w.principal,
        signal,
      );
      const verdict = judgeWrite(w.token, view);
      if (verdict.kind !== 'ok') {
        throw await fencedRejection(this.d, w, verdict, view, oldest, releasedToken, signal);
      }
      const entry = { slot: w.slot, record: w.record, principal: w.principal, bytes };
      if (ledger !== undefined) this.d.ledger.check(ledger, entry);
      // One transaction: the grant still exists at `token` and nobody wrote since we read.
      const res = await this.d.store.txn(
        {
          compare: [
            { key: own, target: 'create', op: '==', value: w.token },
            view.record === undefined
              ? { key, target: 'version', op: '==', value: '0' }
              : { key, target: 'mod', op: '==', value: view.record.modRevision },
          ],
          success: [
            {
              put: {
                key,
                value: encodeFencedRecord({
                  token: w.token,
                  value: w.value,
                  at: Date.now(),
                  owner: w.principal,
                }),
                ...(lease === undefined ? {} : { lease }),
              },
            },
            ...this.d.ledger.writeOps(entry, view.record?.owner, lease),
          ],
        },
        { signal },
      );
      if (res.succeeded) return { revision: res.revision };
      if (attempt >= this.maxAttempts) throw this.contended(w, attempt);
    }
  }

  private contended(w: { slot: string; record: string }, attempt: number): DomainError {
    return new DomainError(
      'acquire_in_progress',
      `record "${w.record}" of slot "${w.slot}" kept changing under ${attempt} attempts; retry`,
      { retryAfterS: 0 },
    );
  }

  /** One linearizable read of everything {@link judgeWrite} needs. */
  private async readForWrite(
    w: FencedDelete,
    key: string,
    own: string,
    principal: string | undefined,
    signal: AbortSignal | undefined,
  ) {
    const prefix = this.d.space.contenders(w.slot);
    const before = BigInt(w.token) - 1n;
    const ops: TxnOp[] = [
      { range: { key } },
      { range: { key: own } },
      { range: { prefix, sort: { target: 'create', order: 'asc' }, limit: 1 } },
      ownerProbe(prefix, w.token),
      { range: { key: this.d.space.releaseMarker(w.slot) } },
      // The storage ledger of the slot and of the writer (a delete needs neither).
      ...(principal === undefined ? [] : this.d.ledger.readOps(w.slot, principal)),
    ];
    const aheadAt = ops.length;
    // max_create_revision 0 means "no bound" to etcd: token 1 has nothing before it.
    if (before > 0n) {
      ops.push({ range: { prefix, maxCreateRevision: before.toString(), countOnly: true } });
    }
    // Lock-delay: the delay keys, and the contenders up to `token` (keys only) to tell whose
    // holder is gone.
    const delayAt = ops.length;
    ops.push(...blockedAheadOps(this.d.space, w.slot, w.token));
    const res = await this.d.store.txn({ compare: [], success: ops }, { signal });
    const recordKv = rangeAt(res.results, 0).kvs[0];
    const record = recordKv === undefined ? undefined : decodeFencedRecord(recordKv);
    const oldest = rangeAt(res.results, 2).kvs[0];
    const view: WriteView = {
      revision: res.revision,
      record:
        recordKv === undefined
          ? undefined
          : // A damaged value still guards the compare-and-set by its mod revision.
            { token: '0', value: '', at: 0, ...record, modRevision: recordKv.modRevision },
      ownCreate: rangeAt(res.results, 1).kvs[0]?.createRevision,
      liveWithToken: rangeAt(res.results, 3).count,
      ahead: before > 0n ? rangeAt(res.results, aheadAt).count : 0,
      capacity: oldest === undefined ? 0 : (decodeHolder(oldest)?.capacity ?? 1),
      blocked: blockedAhead(
        w.token,
        rangeAt(res.results, delayAt).kvs,
        rangeAt(res.results, delayAt + 1).kvs,
      ),
    };
    const ledger =
      principal === undefined
        ? undefined
        : this.d.ledger.view(rangeAt(res.results, 5).kvs, rangeAt(res.results, 6).kvs);
    return {
      view,
      oldest,
      releasedToken: markerToken(rangeAt(res.results, 4).kvs[0]),
      ledger,
    };
  }

  private countRejection(w: FencedDelete, err: unknown): void {
    if (!(err instanceof DomainError)) return;
    const stale = err.code === 'stale_token' || err.code === 'grant_gone';
    if (stale) this.d.metrics.staleTokens.inc({ source: 'store' });
    if (stale || err.code === 'not_holder') {
      this.d.metrics.fencedWrites.inc({ outcome: 'rejected' });
      this.d.log.warn(
        { slot: w.slot, record: w.record, token: w.token, code: err.code, ...err.extensions },
        'fenced write rejected',
      );
    }
  }
}
