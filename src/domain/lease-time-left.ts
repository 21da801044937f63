import { abortable } from '../etcd/abortable.js';
import type { EtcdStore } from '../etcd/store.js';
import { timeRemaining } from './grant.js';

/**
 * Time left on a lease, asked of etcd once and shared by everyone asking within `shareMs`: when a
 * leader changes, every observer of the election wants the new leader's time left at the same
 * moment, and N observers must not cost N `LeaseTimeToLive` calls. Each caller's answer is counted
 * from when the shared question was sent, so it stays a lower bound of the lease's real time left
 * (a lease is only ever extended; a revoked one is seen as a delete by the observer's watch).
 * Answers of -1 (lease gone) and failures are not shared.
 */
export class LeaseTimeLeft {
  private readonly asked = new Map<string, { sentAt: number; ttlS: Promise<number> }>();

  constructor(
    private readonly store: EtcdStore,
    private readonly shareMs = 250,
  ) {}

  /** Milliseconds left on `leaseId` (0 when it is gone). */
  async remainingMs(leaseId: string, signal?: AbortSignal): Promise<number> {
    if (leaseId === '0') return 0;
    let entry = this.asked.get(leaseId);
    if (entry === undefined || performance.now() - entry.sentAt > this.shareMs) {
      entry = this.ask(leaseId);
    }
    const ttlS = await abortable(entry.ttlS, signal);
    // -1: gone; 0: alive with under a second left (etcd rounds down), counted as 0 ms either way.
    if (ttlS < 0) return 0;
    return timeRemaining(ttlS, entry.sentAt);
  }

  private ask(leaseId: string): { sentAt: number; ttlS: Promise<number> } {
    // No caller's signal: the question is shared; the call still has etcd's deadline.
    const entry = {
      sentAt: performance.now(),
      ttlS: this.store.leaseTimeToLive(leaseId).then(r => r.ttlS),
    };
    this.asked.set(leaseId, entry);
    const forget = () => {
      if (this.asked.get(leaseId) === entry) this.asked.delete(leaseId);
    };
    entry.ttlS.then(ttlS => {
      if (ttlS < 0) forget();
      else setTimeout(forget, this.shareMs).unref();
    }, forget);
    return entry;
  }
}
