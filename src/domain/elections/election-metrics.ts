import { Counter, Gauge, Histogram } from 'prom-client';
import type { Logger } from 'pino';
import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore } from '../../etcd/store.js';
import type { WatchEvent } from '../../etcd/watch.js';
import type { Metrics } from '../../metrics.js';
import type { Handover } from '../grant.js';
import { decodeHolder } from '../grant.js';
import { byRevision, Candidates } from './leader-state.js';
import type { SlotWatch } from '../slots/slot-watch.js';

/** The `election` label given to elections beyond ELECTIONS_MAX distinct names. */
export const OTHER_ELECTIONS = '_other';

/**
 * How long an election whose last candidate vanished without resigning (crashed, lease expired)
 * keeps `slotlock_election_leader_present 0` before its series is removed: long enough for
 * `SlotlockElectionNoLeader` (for: 1m) to page, short enough not to page for ever.
 */
export const ABANDONED_RETENTION_MS = 15 * 60_000;

/**
 * Election SLIs of this replica.
 *
 * - `slotlock_election_duration_seconds{election,reason}` — the `consensus.leader_election_ms`
 *   SLI, leaderless time: from the old leader's last provable moment to the moment a
 *   linearizable read confirms a candidate waiting in this replica as the new leader. For
 *   `reason="resigned"` that moment is the resign; for `reason="expired"` (lease expired, or key
 *   removed otherwise) it is the old leader's last successful keepalive, which is its lease's TTL
 *   before etcd deleted its key (so a crash with a 15 s TTL records about 15 s). etcd deletes an
 *   expired lease's keys up to ~0.5 s late, so this is a lower bound. Observed once per
 *   handover, by the replica serving the new leader's campaign.
 * - `slotlock_election_handover_seconds{election,reason}` — the handover part alone: from this
 *   replica seeing the old key deleted (or sending the resign) to the new leader's grant.
 * - `slotlock_election_leader_changes_total{election}` — new terms seen (a candidate became
 *   leader), from this replica's watch of every election; every replica reports it (use max).
 * - `slotlock_election_leader_present{election}` — 1 while the election has a leader. An
 *   election whose last candidate resigned has ended: its series is removed. One whose last
 *   candidate vanished otherwise (crash, expiry) shows 0 for {@link ABANDONED_RETENTION_MS},
 *   then is removed. Not maintained for `_other`, which stands for many elections.
 *
 * The live candidates of every election are kept in memory, initialised by one read of the
 * election root at start (and again after the watch was lost), then updated from the watch.
 */
export class ElectionTracker {
  private readonly elections = new Map<string, Candidates>();
  private readonly labels = new Set<string>();
  /** Watch batches that arrived while the candidate map was being (re)read. */
  private pending: WatchEvent[][] | undefined = [];
  private readRevision = 0n;
  private readonly closed = new AbortController();
  /** TTL (s) of each election's last deleted leader key: its last keepalive was that long before. */
  private readonly vacatedTtlS = new Map<string, number>();
  /** Removal timers of abandoned elections' `leader_present 0` series. */
  private readonly removals = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: EtcdStore,
    private readonly space: ContenderSpace,
    watch: SlotWatch,
    private readonly metrics: Metrics,
    private readonly maxLabels: number,
    private readonly log: Logger,
  ) {
    watch.listen('*', {
      changed: events => {
        if (this.pending === undefined) this.apply(events, true);
        else this.pending.push([...events]);
      },
      disconnected: () => undefined,
      resynced: () => {
        void this.reload();
      },
    });
  }

  /** Reads every election's live candidates once; call after the watch is anchored. */
  async start(opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.load(false, opts.signal);
  }

  /** Records one election handover seen by this replica (the leaderless-time SLI). */
  observeHandover(name: string, handover: Handover): void {
    const labels = {
      election: this.label(name),
      reason: handover.reason === 'released' ? 'resigned' : 'expired',
    };
    const detectionS = handover.reason === 'released' ? 0 : (this.vacatedTtlS.get(name) ?? 0);
    this.metrics.electionHandover.observe(labels, handover.ms / 1000);
    this.metrics.electionDuration.observe(labels, handover.ms / 1000 + detectionS);
  }

  /** The bounded `election` label of `name`: itself for the first ELECTIONS_MAX names. */
  label(name: string): string {
    if (this.labels.has(name)) return name;
    if (this.labels.size < this.maxLabels) {
      this.labels.add(name);
      return name;
    }
    return OTHER_ELECTIONS;
  }

  /** Stops re-reading after a lost watch, and the removal timers. */
  close(): void {
    this.closed.abort();
    for (const timer of this.removals.values()) clearTimeout(timer);
    this.removals.clear();
  }

  /** After the watch was lost: re-reads until etcd answers, counting the changes missed. */
  private async reload(): Promise<void> {
    this.pending ??= [];
    for (let delay = 100; !this.closed.signal.aborted; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.load(true, this.closed.signal);
        return;
      } catch (err) {
        this.log.warn({ err }, 'election metrics: re-reading the candidates failed; retrying');
        await new Promise(resolve => setTimeout(resolve, delay));
      }
    }
  }

  private async load(countChanges: boolean, signal?: AbortSignal): Promise<void> {
    this.pending ??= [];
    const res = await this.store.range({ prefix: this.space.root, keysOnly: true }, { signal });
    const before = new Map([...this.elections].map(([n, c]) => [n, c.head()?.createRevision]));
    this.elections.clear();
    for (const kv of res.kvs) {
      const parsed = this.space.parse(kv.key);
      if (parsed === undefined || !parsed.rest.startsWith('h/')) continue;
      const c = this.elections.get(parsed.name) ?? new Candidates();
      c.apply({ type: 'put', key: kv.key, revision: kv.modRevision, kv, prev: undefined });
      this.elections.set(parsed.name, c);
    }
    for (const name of new Set([...before.keys(), ...this.elections.keys()])) {
      this.settle(name, before.get(name), countChanges, 'resigned');
    }
    this.readRevision = BigInt(res.revision);
    const queued = this.pending;
    this.pending = undefined;
    for (const events of queued) this.apply(events, true);
  }

  private apply(events: readonly WatchEvent[], countChanges: boolean): void {
    for (const run of byRevision(events)) {
      if (BigInt(run[0]?.revision ?? '0') <= this.readRevision) continue;
      const touched = new Map<string, string | undefined>();
      const resigned = new Set<string>();
      for (const e of run) {
        const parsed = this.space.parse(e.key);
        if (parsed?.rest === 'r' && e.type === 'put') resigned.add(parsed.name);
        if (parsed === undefined || !parsed.rest.startsWith('h/')) continue;
        const c = this.elections.get(parsed.name) ?? new Candidates();
        const head = c.head();
        if (!touched.has(parsed.name)) touched.set(parsed.name, head?.createRevision);
        if (e.type === 'delete' && head?.key === e.key) {
          const ttlS = decodeHolder(e.prev ?? head)?.ttlS;
          if (ttlS !== undefined) this.vacatedTtlS.set(parsed.name, ttlS);
        }
        c.apply(e);
        this.elections.set(parsed.name, c);
      }
      for (const [name, before] of touched) {
        this.settle(name, before, countChanges, resigned.has(name) ? 'resigned' : 'vanished');
      }
    }
  }

  /**
   * Updates the metrics of `name` after its candidates changed from leader `before`. `ended`
   * says how the last candidate left if none is left: `resigned` ends the election (its series
   * goes; a re-read after a lost watch counts so too), `vanished` leaves it abandoned.
   */
  private settle(
    name: string,
    before: string | undefined,
    countChanges: boolean,
    ended: 'resigned' | 'vanished',
  ): void {
    const c = this.elections.get(name);
    const now = c?.head()?.createRevision;
    if (c !== undefined && c.size === 0) this.elections.delete(name);
    const label = this.label(name);
    if (countChanges && now !== undefined && now !== before) {
      this.metrics.leaderChanges.inc({ election: label });
    }
    if (label === OTHER_ELECTIONS) return;
    clearTimeout(this.removals.get(name));
    this.removals.delete(name);
    if (now !== undefined) {
      this.metrics.leaderPresent.set({ election: label }, 1);
    } else if (ended === 'resigned' || before === undefined) {
      this.metrics.leaderPresent.remove({ election: label });
    } else {
      this.metrics.leaderPresent.set({ election: label }, 0);
      const timer = setTimeout(() => {
        this.removals.delete(name);
        this.metrics.leaderPresent.remove({ election: label });
      }, ABANDONED_RETENTION_MS);
      timer.unref();
      this.removals.set(name, timer);
    }
  }
}

/**
 * The metrics the election semaphore reports into: etcd and keepalive metrics are shared, but
 * the lock SLIs (acquire time, waiting, hold time, grants held) are detached so that campaigns, which wait
 * for minutes by design, never count against `lock.acquire_time_ms`.
 */
export function electionSemaphoreMetrics(metrics: Metrics): Metrics {
  const detached = { registers: [] };
  return {
    ...metrics,
    acquireDuration: new Histogram({
      name: 'slotlock_election_campaign_duration_seconds',
      help: 'not exported',
      labelNames: ['mode', 'outcome'] as const,
      ...detached,
    }),
    acquires: new Counter({
      name: 'slotlock_election_campaign_total',
      help: 'not exported',
      labelNames: ['outcome'] as const,
      ...detached,
    }),
    waiting: new Gauge({ name: 'slotlock_election_waiting', help: 'not exported', ...detached }),
    grantsHeld: new Gauge({
      name: 'slotlock_election_terms_held',
      help: 'not exported',
      ...detached,
    }),
    holdDuration: new Histogram({
      name: 'slotlock_election_term_duration_seconds',
      help: 'not exported',
      labelNames: ['reason'] as const,
      ...detached,
    }),
    grantEnds: new Counter({
      name: 'slotlock_election_term_ends_total',
      help: 'not exported',
      labelNames: ['reason'] as const,
      ...detached,
    }),
  };
}
