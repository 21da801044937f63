import type { Logger } from 'pino';
import { electionSpace, type ContenderSpace, type KeyLayout } from '../../etcd/keys.js';
import type { LeaseKeeper } from '../../etcd/lease-keeper.js';
import type { EtcdStore } from '../../etcd/store.js';
import { watchCounters, type Metrics } from '../../metrics.js';
import type { Cleanup } from '../cleanup.js';
import type { MarkerLeases } from '../marker-leases.js';
import type { QuotaHook } from '../quota-hook.js';
import { ElectionTracker, electionSemaphoreMetrics } from './election-metrics.js';
import { observeLeader, type ObserveOptions } from './election-observer.js';
import { LeaseTimeLeft } from '../lease-time-left.js';
import { DomainError, hasCode } from '../errors.js';
import { timeRemaining, type FencingToken } from '../grant.js';
import { leaderView, type LeaderState } from './leader-state.js';
import { Semaphore } from '../slots/semaphore.js';
import { SlotWatch } from '../slots/slot-watch.js';

/**
 * A won election. `token` is the term's fencing token (the leader key's create revision): it
 * increases strictly from one leader to the next, so a resource that remembers the highest token
 * it has seen rejects a deposed leader. `secret` alone renews, proclaims and resigns.
 */
export interface Leadership {
  election: string;
  token: FencingToken;
  secret: string;
  candidate: string;
  value: string;
  ttlS: number;
  /** Time left on the lease, measured before etcd last extended it (a lower bound). */
  expiresInMs: number;
  waited: boolean;
  /** A retry with the same Idempotency-Key found this existing term. */
  replayed: boolean;
}

/** What a candidate asks for. `waitMs` 0 means: lead now or fail with `not_leader`. */
export interface CampaignRequest {
  /**
   * Makes the campaign safe to retry: a retry with the same key finds the same candidacy (its
   * term, if it leads) instead of queueing a second candidate behind a ghost of the first.
   */
  idempotencyKey?: string | undefined;
  candidate: string;
  value: string;
  ttlS: number;
  waitMs: number;
  /** The candidate's per-principal quota of candidacies. */
  quota?: QuotaHook | undefined;
}

export interface ElectionsDeps {
  store: EtcdStore;
  keys: KeyLayout;
  leases: LeaseKeeper;
  cleanup: Cleanup;
  metrics: Metrics;
  log: Logger;
  retryAfterS: number;
  reconnectGraceMs: number;
  /** At most this many distinct `election` label values; the rest are counted as `_other`. */
  electionsMax: number;
  /** Leases for resignation markers, so an idle election's marker expires. */
  markerLeases?: MarkerLeases | undefined;
}

interface Opts {
  signal?: AbortSignal;
}

/**
 * Lease-based leader election, after etcd's Go `concurrency.Election`, on the slot semaphore
 * with capacity 1 over the election key space: each candidate puts its own key on its own lease
 * and the live key with the lowest create revision leads. Waiting candidates are promoted only
 * after a linearizable read shows their key first, so a candidate whose lease expired is never
 * elected, and a resign hands over at once.
 */
export class Elections {
  readonly space: ContenderSpace;
  private readonly watch: SlotWatch;
  private readonly semaphore: Semaphore;
  private readonly tracker: ElectionTracker;
  /** Shared by all observers: one LeaseTimeToLive per leader change, not one per observer. */
  private readonly timeLeft: LeaseTimeLeft;

  constructor(private readonly d: ElectionsDeps) {
    this.space = electionSpace(d.keys);
    this.timeLeft = new LeaseTimeLeft(d.store);
    this.watch = new SlotWatch(d.store, this.space, d.log, watchCounters(d.metrics, 'elections'));
    this.tracker = new ElectionTracker(
      d.store,
      this.space,
      this.watch,
      d.metrics,
      d.electionsMax,
      d.log,
    );
    this.semaphore = new Semaphore({
      store: d.store,
      space: this.space,
      watch: this.watch,
      leases: d.leases,
      cleanup: d.cleanup,
      metrics: electionSemaphoreMetrics(d.metrics),
      log: d.log,
      retryAfterS: d.retryAfterS,
      reconnectGraceMs: d.reconnectGraceMs,
      markerLeases: d.markerLeases,
      onHandover: (name, handover) => {
        this.tracker.observeHandover(name, handover);
      },
    });
  }

  /** Anchors the election watch and reads the live candidates for the metrics. */
  async start(): Promise<void> {
    await this.watch.start();
    await this.tracker.start();
  }

  /** Stops the watch; candidates' leases are left alone. */
  async close(): Promise<void> {
    this.tracker.close();
    await this.watch.close();
  }

  /**
   * Stands for election `name` and resolves once etcd confirms the caller leads. Fails with
   * `not_leader` (try mode, someone leads), `wait_timeout`, or `etcd_unavailable`; in each case,
   * and when `signal` aborts, the candidacy (key and lease) is withdrawn.
   */
  async campaign(name: string, req: CampaignRequest, opts: Opts = {}): Promise<Leadership> {
    try {
      const g = await this.semaphore.acquire(
        {
          slot: name,
          idempotencyKey: req.idempotencyKey,
          holder: req.candidate,
          capacity: 1,
          ttlS: req.ttlS,
          waitMs: req.waitMs,
          value: req.value,
          quota: req.quota,
        },
        opts,
      );
      return {
        election: name,
        token: g.token,
        secret: g.secret,
        candidate: req.candidate,
        value: g.value ?? req.value,
        ttlS: g.ttlS,
        expiresInMs: g.expiresInMs,
        waited: g.waited,
        replayed: g.replayed,
      };
    } catch (err) {
      throw electionError(name, req.waitMs, err);
    }
  }

  /** Renews the leader's lease: `grant_gone` once the term has ended, `not_holder` for a bad secret. */
  async keepAlive(name: string, token: FencingToken, secret: string, opts: Opts = {}) {
    return this.semaphore.keepAlive(name, token, secret, opts);
  }

  /** Publishes a new value for the term at `token`; the token and lease do not change. */
  async proclaim(
    name: string,
    token: FencingToken,
    secret: string,
    value: string,
    opts: Opts = {},
  ) {
    await this.semaphore.proclaim(name, token, secret, value, opts);
  }

  /**
   * Ends the term at `token`; the next waiting candidate is promoted at once. With the caller's
   * quota ledger prefix the term's ledger key goes in the same transaction (see releaseGrant).
   */
  async resign(
    name: string,
    token: FencingToken,
    secret: string,
    opts: Opts & { ledgerPrefix?: string | undefined } = {},
  ) {
    await this.semaphore.release(name, token, secret, opts);
  }

  /**
   * Who leads now, by a linearizable read. A leader whose lease is found gone between the two
   * reads is never reported: the read is repeated (its key was deleted with the lease).
   */
  async leader(name: string, opts: Opts = {}): Promise<LeaderState> {
    for (let attempt = 0; ; attempt++) {
      const head = await this.d.store.range(
        { prefix: this.space.contenders(name), sort: { target: 'create', order: 'asc' }, limit: 1 },
        opts,
      );
      const kv = head.kvs[0];
      if (kv === undefined) return { election: name, leader: null, revision: head.revision };
      if (kv.lease === '0') {
        return { election: name, leader: leaderView(kv, 0), revision: head.revision };
      }
      const sentAt = performance.now();
      const ttl = await this.d.store.leaseTimeToLive(kv.lease, opts);
      // etcd rounds down: 0 is a live lease with under a second left; only -1 means it is gone.
      if (ttl.ttlS >= 0) {
        const left = timeRemaining(ttl.ttlS, sentAt);
        return { election: name, leader: leaderView(kv, left), revision: head.revision };
      }
      if (attempt >= 5) {
        throw new DomainError('etcd_unavailable', 'the leader changed during every read; retry', {
          retryAfterS: this.d.retryAfterS,
        });
      }
    }
  }

  /** See {@link observeLeader}. */
  observe(name: string, opts: ObserveOptions = {}): AsyncGenerator<LeaderState> {
    return observeLeader(this.d.store, this.space, name, this.timeLeft, {
      ...opts,
      counters: watchCounters(this.d.metrics, 'observe'),
    });
  }
}

/** Words the semaphore's errors for an election. */
function electionError(name: string, waitMs: number, err: unknown): unknown {
  if (hasCode(err, 'slot_busy')) {
    return new DomainError('not_leader', `election "${name}" has a leader already`, {
      ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }),
      cause: err,
    });
  }
  if (hasCode(err, 'wait_timeout')) {
    return new DomainError(
      'wait_timeout',
      `did not become leader of election "${name}" within ${waitMs} ms; the candidacy was withdrawn`,
      { ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }), cause: err },
    );
  }
  return err;
}
