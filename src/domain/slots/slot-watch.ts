import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { EtcdStore } from '../../etcd/store.js';
import type { ContenderSpace } from '../../etcd/keys.js';
import {
  watchPrefix,
  WatchLostError,
  type WatchEvent,
  type WatchRestartReason,
} from '../../etcd/watch.js';

/** Counts a watch's restarts and resyncs (see `slotlock_etcd_watch_*_total`). */
export interface WatchCounters {
  restarted(reason: WatchRestartReason): void;
  resynced(): void;
  /** The watch call is up (etcd created it) or down again. */
  connected(up: boolean): void;
}

/** Receives the changes of one slot (or of every slot, for the "*" listener). */
export interface SlotListener {
  /** Changes to the slot's keys, in revision order. */
  changed(events: readonly WatchEvent[]): void;
  /** The watch lost its connection: etcd may be unreachable; state may be stale. */
  disconnected(err: Error): void;
  /** The watch restarted after a gap: re-read everything from etcd. */
  resynced(): void;
}

/**
 * One etcd watch per replica over every slot key, fanned out in memory to the waiters of each
 * slot. This keeps the etcd requests needed for a handover independent of the number of waiters:
 * a delete wakes one read per slot in each replica, never one per waiter.
 */
export class SlotWatch {
  private readonly listeners = new Map<string, Set<SlotListener>>();
  private readonly abort = new AbortController();
  private delivered = -1n;
  private running: Promise<void> | undefined;
  private connected = false;
  /** The watch call is created and open (for the connected gauge). */
  private callUp = false;

  constructor(
    private readonly store: EtcdStore,
    private readonly space: ContenderSpace,
    private readonly log: Logger,
    private readonly counters: WatchCounters = {
      restarted: () => undefined,
      resynced: () => undefined,
      connected: () => undefined,
    },
    /**
     * Whether listeners need each event's previous key-value (`WatchEvent.prev`): the elections'
     * metrics do (the TTL of a vanished leader); the slots' listeners do not, and without it etcd
     * skips a store read per delete and per overwrite.
     */
    private readonly prevKv = true,
  ) {}

  /** The highest revision whose events have all been delivered to listeners. */
  get deliveredRevision(): bigint {
    return this.delivered;
  }

  /** True once the watch is anchored at a revision (requests that wait can be served). */
  get anchored(): boolean {
    return this.running !== undefined;
  }

  /** True while the watch stream is believed to be connected. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Starts watching from etcd's current revision; resolves once the watch is anchored. */
  async start(): Promise<void> {
    if (this.running !== undefined) return;
    const revision = BigInt(await this.store.revision());
    this.delivered = revision;
    this.connected = true;
    this.running = this.run(revision + 1n);
  }

  /** Registers `listener` for `slot` ("*" for all); returns the function that unregisters it. */
  listen(slot: string, listener: SlotListener): () => void {
    let set = this.listeners.get(slot);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(slot, set);
    }
    set.add(listener);
    return () => {
      const current = this.listeners.get(slot);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(slot);
    };
  }

  /** Stops the watch. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.setCallUp(false);
  }

  private async run(from: bigint): Promise<void> {
    let next = from;
    while (!this.abort.signal.aborted) {
      try {
        for await (const item of watchPrefix(this.store.client, this.space.root, next.toString(), {
          signal: this.abort.signal,
          prevKv: this.prevKv,
          onRestart: (reason, err) => {
            this.counters.restarted(reason);
            this.log.info({ err, reason }, 'slot watch restarting');
          },
        })) {
          if (item.type === 'events') {
            this.dispatch(item.events);
            this.delivered = BigInt(item.revision);
            next = this.delivered + 1n;
          } else if (item.type === 'progress') {
            this.delivered = BigInt(item.revision);
            next = this.delivered + 1n;
          } else if (item.type === 'disconnected') {
            this.connected = false;
            this.setCallUp(false);
            this.forEach(l => {
              l.disconnected(item.error);
            });
          } else {
            this.connected = true;
            this.setCallUp(true);
          }
        }
      } catch (err) {
        this.setCallUp(false);
        // close() may have aborted while the watch was awaited.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (this.abort.signal.aborted) return;
        this.connected = false;
        this.log.warn({ err }, 'slot watch lost; re-anchoring');
        next = await this.reanchor(err);
        this.counters.resynced();
        this.forEach(l => {
          l.resynced();
        });
      }
    }
  }

  /** After a lost watch, anchors at the current revision again, retrying until etcd answers. */
  private async reanchor(cause: unknown): Promise<bigint> {
    if (!(cause instanceof WatchLostError)) {
      this.forEach(l => {
        l.disconnected(cause instanceof Error ? cause : new Error(String(cause)));
      });
    }
    for (let delay = 50; !this.abort.signal.aborted; delay = Math.min(delay * 2, 1000)) {
      try {
        const revision = BigInt(await this.store.revision({ signal: this.abort.signal }));
        this.delivered = revision;
        this.connected = true;
        return revision + 1n;
      } catch {
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
    return this.delivered + 1n;
  }

  private setCallUp(up: boolean): void {
    if (this.callUp === up) return;
    this.callUp = up;
    this.counters.connected(up);
  }

  private dispatch(events: readonly WatchEvent[]): void {
    const bySlot = new Map<string, WatchEvent[]>();
    for (const event of events) {
      const parsed = this.space.parse(event.key);
      if (parsed === undefined) continue;
      const list = bySlot.get(parsed.name) ?? [];
      list.push(event);
      bySlot.set(parsed.name, list);
    }
    for (const [slot, list] of bySlot) {
      for (const l of this.listeners.get(slot) ?? []) l.changed(list);
    }
    if (events.length > 0) for (const l of this.listeners.get('*') ?? []) l.changed(events);
  }

  private forEach(fn: (l: SlotListener) => void): void {
    for (const set of this.listeners.values()) for (const l of set) fn(l);
  }
}
