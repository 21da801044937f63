import { createHash } from 'node:crypto';
import type { Config } from '../../config.js';
import { DomainError } from '../../domain/errors.js';
import { ledgerKeyOf, type QuotaHook } from '../../domain/quota-hook.js';
import type { EtcdStore } from '../../etcd/store.js';

/** What a principal's quotas count: in etcd (grants, elections, sessions) or on this replica. */
export type QuotaKind = 'grants' | 'elections' | 'sessions';

const ledgerOf: Record<QuotaKind, string> = { grants: 'g', elections: 'e', sessions: 'x' };

/** How long a count read from etcd may be reused on this replica while far below the quota. */
const COUNT_REUSE_MS = 1000;
/** Share of a quota below which a reused count may admit without a read. */
const REUSE_BELOW = 0.9;
/** Share of a quota one replica may admit on a reused count before it reads again. */
const REUSE_BUDGET = 0.05;
/** Principals whose last count this replica keeps. */
const COUNTS_KEPT = 10_000;

/** A count read from etcd, plus what this replica admitted on it since. */
interface SeenCount {
  count: number;
  admitted: number;
  at: number;
}

/**
 * Per-principal quotas. Grants (held or queued), election candidacies and sessions are counted in
 * etcd, so they hold across replicas: each one puts a ledger key `<p>q/<g|e|x>/<principal-hash>/
 * <id>` on its own lease in the transaction that creates it (`<id>`: a hash of a grant's or
 * candidacy's contender key, or of a session's lease id; a session grant's key is deleted by its
 * release, in the release's transaction), and a new one first counts the principal's ledger keys
 * (one count-only range, run alongside the lease grant). Concurrent requests of one principal on
 * several replicas may pass the count together, so a quota can be exceeded by at most the requests
 * in flight at that moment.
 * Waiters (long-polls parked on this replica) are counted in memory, per replica.
 * Over a quota: 429 `quota_exceeded`, before anything is written. A quota of 0 is off.
 */
export class Quotas {
  private readonly root: string;
  private readonly limits: Record<QuotaKind, number>;
  private readonly waiters = new Map<string, number>();
  private readonly seen = new Map<string, SeenCount>();
  private readonly hashes = new Map<string, string>();

  constructor(
    private readonly store: EtcdStore,
    prefix: string,
    private readonly config: Config,
  ) {
    this.root = `${prefix}q/`;
    this.limits = {
      grants: config.QUOTA_GRANTS,
      elections: config.QUOTA_ELECTIONS,
      sessions: config.QUOTA_SESSIONS,
    };
  }

  /** The prefix of a principal's ledger keys of one kind. */
  ledgerPrefix(kind: QuotaKind, principal: string): string {
    return `${this.root}${ledgerOf[kind]}/${this.principalHash(principal)}/`;
  }

  /** The principal's hash in ledger key names; remembered, since every request needs it. */
  private principalHash(principal: string): string {
    let h = this.hashes.get(principal);
    if (h === undefined) {
      h = createHash('sha256').update(principal).digest('hex').slice(0, 32);
      if (this.hashes.size >= COUNTS_KEPT) this.hashes.clear();
      this.hashes.set(principal, h);
    }
    return h;
  }

  /**
   * The prefix of a principal's ledger keys of one kind while that quota is on (a release deletes
   * its grant's ledger key under it in its own transaction); undefined when the quota is off.
   */
  activeLedgerPrefix(kind: QuotaKind, principal: string): string | undefined {
    return this.limits[kind] <= 0 ? undefined : this.ledgerPrefix(kind, principal);
  }

  /** The quota hook of one new grant, candidacy or session; undefined when that quota is off. */
  hook(kind: QuotaKind, principal: string): QuotaHook | undefined {
    const limit = this.limits[kind];
    if (limit <= 0) return undefined;
    const prefix = this.ledgerPrefix(kind, principal);
    return {
      keyFor: name => ledgerKeyOf(prefix, name),
      admit: async signal => {
        if (this.admitOnSeen(prefix, limit)) return;
        const { count } = await this.store.range({ prefix, countOnly: true }, { signal });
        if (count >= limit) throw exceeded(kind, limit, count);
        this.remember(prefix, count + 1);
      },
    };
  }

  /**
   * Admits without a read while the principal is far below its quota: the last count this
   * replica read (under 1 s old) plus what it admitted since stays below 90 % of the quota, and this
   * replica has admitted at most 5 % of the quota on it. A refusal always comes from a fresh read,
   * so reuse never refuses wrongly; across R replicas it can let a principal pass its quota by at
   * most (R − 2) × 5 % of it within a second. It takes the count read off the path of most acquires.
   */
  private admitOnSeen(prefix: string, limit: number): boolean {
    const seen = this.seen.get(prefix);
    if (seen === undefined || performance.now() - seen.at > COUNT_REUSE_MS) return false;
    if (seen.count + 1 >= limit * REUSE_BELOW) return false;
    if (seen.admitted + 1 > Math.max(1, Math.floor(limit * REUSE_BUDGET))) return false;
    seen.count += 1;
    seen.admitted += 1;
    return true;
  }

  private remember(prefix: string, count: number): void {
    this.seen.delete(prefix);
    if (this.seen.size >= COUNTS_KEPT) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.set(prefix, { count, admitted: 0, at: performance.now() });
  }

  /**
   * Runs a waiting acquire or campaign of `principal` while counting it as one of its waiters on
   * this replica (`QUOTA_WAITERS`); a request that does not wait is not counted.
   */
  async waiting<T>(principal: string, waits: boolean, run: () => Promise<T>): Promise<T> {
    const limit = this.config.QUOTA_WAITERS;
    if (!waits || limit <= 0) return run();
    const now = this.waiters.get(principal) ?? 0;
    if (now >= limit) throw exceeded('waiters', limit, now);
    this.waiters.set(principal, now + 1);
    try {
      return await run();
    } finally {
      const left = (this.waiters.get(principal) ?? 1) - 1;
      if (left <= 0) this.waiters.delete(principal);
      else this.waiters.set(principal, left);
    }
  }
}

function exceeded(kind: QuotaKind | 'waiters', limit: number, current: number): DomainError {
  const what = {
    grants: 'grants (held or queued)',
    elections: 'election candidacies',
    sessions: 'sessions',
    waiters: 'waiting requests on this replica',
  }[kind];
  return new DomainError(
    'quota_exceeded',
    `this principal already has ${current} ${what}, its quota is ${limit}; nothing was written ` +
      '(release or end some first)',
    { extensions: { quota: kind, limit } },
  );
}
