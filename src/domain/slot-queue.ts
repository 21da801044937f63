import { rangeAt, type EtcdStore } from '../etcd/store.js';
import { blockedPlaces, delayKeysOp } from './lock-delay.js';
import type { ContenderSpace } from '../etcd/keys.js';
import type { WatchEvent } from '../etcd/watch.js';
import { DomainError } from './errors.js';
import type { Handover } from './grant.js';

/**
 * TEST-ONLY negative controls (test/reliability/negative-controls.test.ts): deliberately broken
 * modes that the chaos checkers must catch. Read once from SLOTLOCK_UNSAFE_TEST_MODE; any value
 * without NODE_ENV=test throws here, so a process started that way refuses to start.
 *   skip-recheck        promote the oldest local waiter on a watched delete, without the read
 *   grant-without-head  grant every waiting acquire at once, whatever its place in the queue
 */
export const unsafeTestMode = ((): 'skip-recheck' | 'grant-without-head' | undefined => {
  const mode = process.env.SLOTLOCK_UNSAFE_TEST_MODE;
  if (mode === undefined || mode === '') return undefined;
  if (
    process.env.NODE_ENV !== 'test' ||
    (mode !== 'skip-recheck' && mode !== 'grant-without-head')
  ) {
    throw new Error(
      `refusing to start: SLOTLOCK_UNSAFE_TEST_MODE=${mode} breaks mutual exclusion on purpose and is only accepted (skip-recheck|grant-without-head) with NODE_ENV=test`,
    );
  }
  return mode;
})();

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
 */
export class SlotQueue {
  private readonly waiters = new Map<string, LocalWaiter>();
  private evaluating = false;
  private dirty = false;
  /** When the earliest delete not yet acted on was seen, and whether it was a clean release. */
  private vacancy: { at: number; reason: Handover['reason'] } | undefined;
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

  add(waiter: LocalWaiter): void {
    // UNSAFE TEST MODE (negative control): a waiter is granted without reaching the head.
    if (unsafeTestMode === 'grant-without-head') {
      waiter.promote('0', undefined);
      return;
    }
    this.waiters.set(waiter.key, waiter);
  }

  remove(key: string): void {
    this.waiters.delete(key);
  }

  /** Reacts to watched changes of this slot. */
  changed(events: readonly WatchEvent[]): void {
    let freed = false;
    const released = new Set(
      events.filter(e => e.type === 'put' && e.key.endsWith('#r')).map(e => e.revision),
    );
    for (const event of events) {
      if (event.type !== 'delete') continue;
      freed = true;
      this.vacancy ??= {
        at: performance.now(),
        reason: released.has(event.revision) ? 'released' : 'expired',
      };
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
    }
    // UNSAFE TEST MODE (negative control): trust the delete event instead of re-reading the queue.
    const oldest = this.waiters.values().next().value;
    if (freed && unsafeTestMode === 'skip-recheck' && oldest !== undefined) {
      this.waiters.delete(oldest.key);
      oldest.promote(events[events.length - 1]?.revision ?? '0', undefined);
      return;
    }
    if (freed) this.evaluate();
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
    do {
      this.dirty = false;
      if (this.waiters.size === 0) {
        this.vacancy = undefined;
        return;
      }
      const vacancy = this.vacancy;
      this.vacancy = undefined;
      let limit = 1;
      for (const w of this.waiters.values()) limit = Math.max(limit, w.capacity);
      try {
        this.reads.count++;
        // One transaction: the head of the queue and the lock-delay keys still blocking places.
        const read = await this.store.txn({
          compare: [],
          success: [
            {
              range: {
                prefix: this.space.contenders(this.slot),
                sort: { target: 'create', order: 'asc' },
                limit,
                keysOnly: true,
              },
            },
            delayKeysOp(this.space, this.slot),
          ],
        });
        const head = rangeAt(read.results, 0).kvs;
        const blocked = blockedPlaces(rangeAt(read.results, 1).kvs, head);
        head.forEach((kv, index) => {
          const w = this.waiters.get(kv.key);
          if (w !== undefined && index + blocked < w.capacity) {
            this.waiters.delete(kv.key);
            w.promote(
              read.revision,
              vacancy === undefined
                ? undefined
                : { ms: performance.now() - vacancy.at, reason: vacancy.reason },
            );
          }
        });
      } catch (err) {
        this.failAll(
          err instanceof DomainError
            ? err
            : new DomainError('internal', `reading the queue failed: ${String(err)}`),
        );
        return;
      }
      // `dirty` is set by changed() while the read above was awaited.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    } while (this.dirty);
  }
}
