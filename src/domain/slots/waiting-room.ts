import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore } from '../../etcd/store.js';
import { EtcdUnavailableError } from '../errors.js';
import { SlotQueue } from './slot-queue.js';
import type { SlotWatch } from './slot-watch.js';

/**
 * The waiting acquires of this replica, one {@link SlotQueue} per name that has waiters, each fed
 * by the replica's one watch. If the watch stays disconnected longer than `reconnectGraceMs`,
 * every waiter is answered `etcd_unavailable` rather than left waiting on a dead connection; after
 * a resync every queue re-reads its head.
 */
export class WaitingRoom {
  private readonly queues = new Map<string, { queue: SlotQueue; stop: () => void }>();
  private readonly reads = { count: 0 };
  private disconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly d: {
      store: EtcdStore;
      space: ContenderSpace;
      watch: SlotWatch;
      retryAfterS: number;
      reconnectGraceMs: number;
    },
  ) {
    d.watch.listen('*', {
      changed: () => undefined,
      disconnected: () => {
        this.onDisconnect();
      },
      resynced: () => {
        clearTimeout(this.disconnectTimer);
        this.disconnectTimer = undefined;
        for (const { queue } of this.queues.values()) queue.evaluate();
      },
    });
  }

  /** Requests waiting in this replica. */
  get waiting(): number {
    let n = 0;
    for (const { queue } of this.queues.values()) n += queue.size;
    return n;
  }

  /** Linearizable queue reads made for handovers so far. */
  get handoverReads(): number {
    return this.reads.count;
  }

  /** The queue of `name`, created (and subscribed to the watch) on first use. */
  queueFor(name: string): SlotQueue {
    const existing = this.queues.get(name);
    if (existing !== undefined) return existing.queue;
    const queue = new SlotQueue(name, this.d.store, this.d.space, this.reads);
    const stop = this.d.watch.listen(name, {
      changed: events => {
        queue.changed(events);
      },
      disconnected: () => undefined,
      resynced: () => undefined,
    });
    this.queues.set(name, { queue, stop });
    return queue;
  }

  /** The queue of `name` if anyone waits in it here. */
  queueIfAny(name: string): SlotQueue | undefined {
    const queue = this.queues.get(name)?.queue;
    return queue === undefined || queue.size === 0 ? undefined : queue;
  }

  /** Drops the queue of `name` once nobody waits in it. */
  dropIfEmpty(name: string): void {
    const entry = this.queues.get(name);
    if (entry === undefined || entry.queue.size > 0) return;
    entry.stop();
    this.queues.delete(name);
  }

  private onDisconnect(): void {
    if (this.disconnectTimer !== undefined) return;
    this.disconnectTimer = setTimeout(() => {
      this.disconnectTimer = undefined;
      if (this.d.watch.isConnected) return;
      const err = new EtcdUnavailableError(
        'lost the connection to etcd while waiting; the waiting request was withdrawn',
        this.d.retryAfterS,
      );
      for (const { queue } of this.queues.values()) queue.failAll(err);
    }, this.d.reconnectGraceMs);
  }
}
