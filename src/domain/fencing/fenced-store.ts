import type { Logger } from 'pino';
import type { ContenderSpace, KeyLayout } from '../../etcd/keys.js';
import type { EtcdStore, KeyValue, TxnOp } from '../../etcd/store.js';
import { rangeAt } from '../../etcd/store.js';
import type { Metrics } from '../../metrics.js';
import { DomainError, InvalidInputError } from '../errors.js';
import {
  decodeFencedRecord,
  encodeFencedRecord,
  highestAbove,
  judgeWrite,
  type FencedValue,
  type WriteView,
} from './fencing.js';
import { decodeHolder, type FencingToken } from '../grant.js';
import { idOfSecret } from '../secrets.js';
import { ownerProbe } from '../ownership.js';

/** A write to a fenced record, made by the holder of grant `token` (proved by `secret`). */
export interface FencedWrite {
  slot: string;
  record: string;
  token: FencingToken;
  secret: string;
  value: string;
}

export interface FencedStoreDeps {
  store: EtcdStore;
  keys: KeyLayout;
  space: ContenderSpace;
  metrics: Metrics;
  log: Logger;
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
    try {
      const out = await this.writeOnce(w, opts.signal);
      this.d.metrics.fencedWrites.inc({ outcome: 'applied' });
      return out;
    } catch (err) {
      this.countRejection(w, err);
      throw err;
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

  private async writeOnce(w: FencedWrite, signal: AbortSignal | undefined) {
    const key = this.d.keys.fencedRecord(w.slot, w.record);
    const own = this.d.space.contender(w.slot, idOfSecret(w.secret));
    for (let attempt = 1; ; attempt++) {
      const { view, oldest, releasedToken } = await this.readForWrite(w, key, own, signal);
      const verdict = judgeWrite(w.token, view);
      if (verdict.kind !== 'ok') {
        throw await this.rejection(w, verdict, view, oldest, releasedToken, signal);
      }
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
                value: encodeFencedRecord({ token: w.token, value: w.value, at: Date.now() }),
              },
            },
          ],
        },
        { signal },
      );
      if (res.succeeded) return { revision: res.revision };
      if (attempt >= this.maxAttempts) {
        throw new DomainError(
          'acquire_in_progress',
          `record "${w.record}" of slot "${w.slot}" kept changing under ${attempt} attempts; retry`,
          { retryAfterS: 0 },
        );
      }
    }
  }

  /** One linearizable read of everything {@link judgeWrite} needs. */
  private async readForWrite(
    w: FencedWrite,
    key: string,
    own: string,
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
    ];
    // max_create_revision 0 means "no bound" to etcd: token 1 has nothing before it.
    if (before > 0n) {
      ops.push({ range: { prefix, maxCreateRevision: before.toString(), countOnly: true } });
    }
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
      ahead: before > 0n ? rangeAt(res.results, 5).count : 0,
      capacity: oldest === undefined ? 0 : (decodeHolder(oldest)?.capacity ?? 1),
    };
    return { view, oldest, releasedToken: markerToken(rangeAt(res.results, 4).kvs[0]) };
  }

  private async rejection(
    w: FencedWrite,
    verdict: Exclude<ReturnType<typeof judgeWrite>, { kind: 'ok' }>,
    view: WriteView,
    oldest: KeyValue | undefined,
    releasedToken: FencingToken | undefined,
    signal: AbortSignal | undefined,
  ): Promise<DomainError> {
    const where = `slot "${w.slot}"`;
    switch (verdict.kind) {
      case 'future':
        return new InvalidInputError(
          `token ${w.token} is above etcd's current revision ${view.revision}: no grant has it`,
          [{ pointer: '/body/token', detail: 'is from the future (above the current revision)' }],
        );
      case 'not_holder':
        return new DomainError(
          'not_holder',
          verdict.waiting
            ? `grant ${w.token} of ${where} is still waiting in the queue; it may not write yet`
            : `the secret does not belong to grant ${w.token} of ${where}`,
        );
      case 'stale':
      case 'gone':
        break;
    }
    const holder = await this.currentHolderToken(w.slot, view.capacity, oldest, signal);
    const written = highestAbove(w.token, [view.record?.token]);
    const granted = highestAbove(w.token, [holder, releasedToken]);
    if (verdict.kind === 'gone' && written === undefined && granted === undefined) {
      return new DomainError(
        'grant_gone',
        `grant ${w.token} of ${where} no longer exists (released, or its lease expired); nothing was written`,
      );
    }
    // The token that beat this write: the record's writer if it is newer, else the newer grant.
    const won = written ?? granted ?? w.token;
    const detail =
      verdict.kind === 'stale'
        ? `token ${w.token} is stale: record "${w.record}" of ${where} was already written with token ${won}`
        : `grant ${w.token} of ${where} has ended (released, or its lease expired) and ` +
          (written === undefined
            ? `token ${won} has been granted since`
            : `record "${w.record}" was since written with token ${won}`) +
          '; a paused or late holder must not write';
    return new DomainError('stale_token', `${detail}; nothing was written`, {
      extensions: {
        token: w.token,
        winningToken: won,
        ...(holder === undefined ? {} : { currentHolderToken: holder }),
      },
    });
  }

  /** The highest token among the slot's current holders, for error messages only. */
  private async currentHolderToken(
    slot: string,
    capacity: number,
    oldest: KeyValue | undefined,
    signal: AbortSignal | undefined,
  ): Promise<FencingToken | undefined> {
    if (oldest === undefined || capacity <= 1) return oldest?.createRevision;
    const head = await this.d.store.range(
      {
        prefix: this.d.space.contenders(slot),
        sort: { target: 'create', order: 'asc' },
        limit: capacity,
        keysOnly: true,
      },
      { signal },
    );
    return head.kvs[head.kvs.length - 1]?.createRevision;
  }

  private countRejection(w: FencedWrite, err: unknown): void {
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

function markerToken(kv: KeyValue | undefined): FencingToken | undefined {
  if (kv === undefined) return undefined;
  try {
    const parsed = JSON.parse(kv.value) as { token?: unknown };
    return typeof parsed.token === 'string' ? parsed.token : undefined;
  } catch {
    return undefined;
  }
}
