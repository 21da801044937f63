import { rangeAt, type EtcdStore, type KeyValue, type TxnOp } from '../../etcd/store.js';
import { blockedPlaces, delayKeysOp } from './lock-delay.js';
import type { ContenderSpace } from '../../etcd/keys.js';
import type { WatchEvent } from '../../etcd/watch.js';
import { asDomainError, DomainError } from '../errors.js';
import type { Handover } from '../grant.js';
import { unsafeTestMode } from './unsafe-test-mode.js';

/**
 * How long failed head reads are retried (100, 200, 400, 800 ms apart, then every second) before
 * the local waiters are failed: long enough for a gRPC reconnect and an open breaker's 2 s under
 * load. Waiters still end on their own deadline, and a lost watch fails them after the waiting
 * room's reconnect grace.
 */
const headReadRetryMs = 10_000;

/** The first `limit` contender keys of a slot by create revision (its head), keys only. */
export function headOp(space: ContenderSpace, slot: string, limit: number): TxnOp {
  return {
    range: {
      prefix: space.contenders(slot),
      sort: { target: 'create', order: 'asc' },
      limit,
      keysOnly: true,
    },
  };
}

/** A request of this replica waiting for its contender key to reach the first N of a slot. */
export interface LocalWaiter {
  readonly key: string;
  readonly capacity: number;
  /** Called once the key was read among the first N at `revision` (so it still existed then). */
  promote(revision: string, handover: Handover | undefined): void;
  /** Called when the wait cannot go on (its key vanished, etcd unreachable, ...). */
  fail(err: DomainError): void;
}

/**
 * The waiters of one slot in this replica. On every change that can free a place it does ONE
 * linearizable read of the slot's first N contenders and promotes the local waiters found there;
 * changes arriving during that read are coalesced into one more read. The read doubles as the
 * post-wait re-check of etcd #11456: a waiter is promoted only if its key still exists.
 *
 * A release made through this replica reads the head in its own transaction and hands it over
 * ({@link offer}): the next local waiter is promoted without waiting for the watch, and the
 * watched delete of that release (at a revision already acted on) costs no further read.
 */
export class SlotQueue {
  private readonly waiters = new Map<string, LocalWaiter>();
  private evaluating = false;
  private dirty = false;
  /** When the earliest delete not yet acted on was seen, and whether it was a clean release. */
  private vacancy: { at: number; reason: Handover['reason'] } | undefined;
  /** The newest revision at which the head was read and acted on (0: never). */
  private actedAt = 0n;
  /** Releases of this slot in flight through this replica; each will {@link offer} a head. */
  private releasing = 0;
  /** The newest delete seen while a release was in flight, not yet acted on (0: none). */
  private deferredUpTo = 0n;
  constructor(
    readonly slot: string,
    private readonly store: EtcdStore,
    private readonly space: ContenderSpace,
    /** Counts the queue reads (tests use it to show handovers do not scale with waiters). */
    private readonly reads: { count: number },
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Adds a waiter whose acquire transaction ran at `token` (it saw every change before it).
   * `watchedUpTo` is the newest revision the watch has already delivered.
   */
  add(waiter: LocalWaiter, token: string, watchedUpTo: bigint): void {
    // UNSAFE TEST MODE (negative control): a waiter is granted without reaching the head.
    if (unsafeTestMode === 'grant-without-head') {
      waiter.promote('0', undefined);
      return;
    }
    this.waiters.set(waiter.key, waiter);
    // Changes after its transaction were already delivered, or a head read after it was acted on
    // without it: none of them will trigger another read, so read once now.
    const after = BigInt(token);
    if (after < watchedUpTo || after < this.actedAt) this.evaluate();
  }

  /** How many contenders a head read must return for the waiters here (undefined: none wait). */
  get headLimit(): number | undefined {
    if (this.waiters.size === 0) return undefined;
    let limit = 1;
    for (const w of this.waiters.values()) limit = Math.max(limit, w.capacity);
    return limit;
  }

  /**
   * The head as a release transaction of this replica read it at `revision`, right after its
   * delete: promotes the local waiters found in it at once. `sentAt` (when the release was sent,
   * just before the vacancy it made) starts the handover time they report.
   */
  offer(
    revision: string,
    head: readonly KeyValue[],
    delayKeys: readonly KeyValue[],
    sentAt: number,
  ): void {
    if (unsafeTestMode !== undefined || BigInt(revision) <= this.actedAt) return;
    this.actedAt = BigInt(revision);
    this.promoteHead(revision, head, delayKeys, { at: sentAt, reason: 'released' });
  }

  remove(key: string): void {
    this.waiters.delete(key);
  }

  /**
   * A release of this slot is being sent through this replica. Deletes watched meanwhile wait for
   * its answer (which most likely carries the head after them) instead of reading the head again.
   */
  releaseStarted(): void {
    this.releasing++;
  }

  /** The release announced by {@link releaseStarted} was answered (or failed). */
  releaseEnded(): void {
    this.releasing--;
    if (this.releasing > 0 || this.deferredUpTo === 0n) return;
    const upTo = this.deferredUpTo;
    this.deferredUpTo = 0n;
    if (upTo > this.actedAt) this.evaluate();
    else this.vacancy = undefined;
  }

  /** Reacts to watched changes of this slot. */
  changed(events: readonly WatchEvent[]): void {
    let freed = false;
    const released = new Set(
      events.filter(e => e.type === 'put' && e.key.endsWith('#r')).map(e => e.revision),
    );
    for (const event of events) {
      if (event.type !== 'delete') continue;
      const own = this.waiters.get(event.key);
      if (own !== undefined) {
        this.waiters.delete(event.key);
        own.fail(
          new DomainError(
            'wait_cancelled',
            'this waiting request left the queue: its key was deleted (cancelled, or its lease expired)',
          ),
        );
      }
      // Already acted on: a head read at or after this delete (e.g. by the release itself).
      if (BigInt(event.revision) <= this.actedAt) continue;
      freed = true;
      this.vacancy ??= {
        at: performance.now(),
        reason: released.has(event.revision) ? 'released' : 'expired',
      };
    }
    // UNSAFE TEST MODE (negative control): trust the delete event instead of re-reading the queue.
    const oldest = this.waiters.values().next().value;
    if (freed && unsafeTestMode === 'skip-recheck' && oldest !== undefined) {
      this.waiters.delete(oldest.key);
      oldest.promote(events[events.length - 1]?.revision ?? '0', undefined);
      return;
    }
    if (!freed) return;
    if (this.releasing > 0) {
      for (const e of events) {
        if (e.type === 'delete' && BigInt(e.revision) > this.deferredUpTo) {
          this.deferredUpTo = BigInt(e.revision);
        }
      }
      return;
    }
    this.evaluate();
  }

  /** Fails every waiter of this slot with `err`. */
  failAll(err: DomainError): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of all) w.fail(err);
  }

  /** Re-reads the head of the queue and promotes local waiters found in it. */
  evaluate(): void {
    if (this.evaluating) {
      this.dirty = true;
      return;
    }
    this.evaluating = true;
    void this.loop().finally(() => {
      this.evaluating = false;
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let failingSince = 0;
    do {
      this.dirty = false;
      if (this.waiters.size === 0) {
        this.vacancy = undefined;
        return;
      }
      const vacancy = this.vacancy;
      this.vacancy = undefined;
      const limit = this.headLimit ?? 1;
      try {
        this.reads.count++;
        // One transaction: the head of the queue and the lock-delay keys still blocking places.
        const read = await this.store.txn({
          compare: [],
          success: [headOp(this.space, this.slot, limit), delayKeysOp(this.space, this.slot)],
        });
        // A head newer than this read was acted on meanwhile: this one is stale, act on none.
        if (BigInt(read.revision) > this.actedAt) {
          this.actedAt = BigInt(read.revision);
          this.promoteHead(
            read.revision,
            rangeAt(read.results, 0).kvs,
            rangeAt(read.results, 1).kvs,
            vacancy,
          );
        }
      } catch (err) {
        // One failed read is retried (with backoff) rather than failing every local waiter;
        // waiters still end on their own deadline, and on a lasting outage through the
        // waiting room's reconnect grace.
        if (failures++ === 0) failingSince = performance.now();
        if (performance.now() - failingSince < headReadRetryMs) {
          this.vacancy = vacancy;
          this.dirty = true;
          await new Promise(resolve =>
            setTimeout(resolve, Math.min(1000, 100 * 2 ** (failures - 1))),
          );
          continue;
        }
        this.failAll(
          asDomainError(err) ??
            new DomainError('internal', `reading the queue failed: ${String(err)}`),
        );
        return;
      }
      failures = 0;
      // `dirty` is set by changed() while the read above was awaited.
    } while (this.dirty);
  }

  /** Promotes the local waiters among the first N of `head` not blocked by lock-delay. */
  private promoteHead(
    revision: string,
    head: readonly KeyValue[],
    delayKeys: readonly KeyValue[],
    vacancy: { at: number; reason: Handover['reason'] } | undefined,
  ): void {
    const blocked = blockedPlaces(delayKeys, head);
    head.forEach((kv, index) => {
      const w = this.waiters.get(kv.key);
      if (w !== undefined && index + blocked < w.capacity) {
        this.waiters.delete(kv.key);
        w.promote(
          revision,
          vacancy === undefined
            ? undefined
            : { ms: performance.now() - vacancy.at, reason: vacancy.reason },
        );
      }
    });
  }
}
