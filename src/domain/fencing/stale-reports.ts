import type { Logger } from 'pino';
import type { EtcdStore } from '../../etcd/store.js';
import type { Metrics } from '../../metrics.js';
import { InvalidInputError } from '../errors.js';
import { compareTokens, type FencingToken } from '../grant.js';

/** A resource outside etcd telling us it rejected a write carrying a stale token. */
export interface StaleReport {
  slot: string;
  /** The token the rejected write carried. */
  token: FencingToken;
  /** The highest token the resource had already accepted. */
  highestSeen: FencingToken;
  /** A short label of the resource (logged, never a metric label). */
  resource: string;
}

/**
 * Stale-token reports from resources that do their own fencing (a SQL row with a token column, a
 * downstream service): each report is counted in `slotlock_fencing_stale_tokens_total{source="report"}`
 * and logged with the slot and resource, so stale writes outside etcd show up on the dashboards.
 */
export class StaleReports {
  constructor(
    private readonly store: EtcdStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /**
   * Records one report. `highestSeen` must not be below `token`, and neither may be above etcd's
   * current revision (no grant has such a token), else `invalid_input` and nothing is counted.
   */
  async report(r: StaleReport, opts: { signal?: AbortSignal } = {}): Promise<{ revision: string }> {
    if (compareTokens(r.highestSeen, r.token) < 0) {
      throw new InvalidInputError(
        `highestSeen ${r.highestSeen} is below token ${r.token}: a resource rejects a token only after seeing a higher one`,
        [{ pointer: '/body/highestSeen', detail: 'must not be below token' }],
      );
    }
    const revision = await this.store.revision(opts);
    if (compareTokens(r.highestSeen, revision) > 0) {
      throw new InvalidInputError(
        `highestSeen ${r.highestSeen} is above etcd's current revision ${revision}: no grant has it`,
        [
          {
            pointer: '/body/highestSeen',
            detail: 'is from the future (above the current revision)',
          },
        ],
      );
    }
    this.metrics.staleTokens.inc({ source: 'report' });
    this.log.warn(
      { slot: r.slot, token: r.token, highestSeen: r.highestSeen, resource: r.resource },
      'a resource reported rejecting a stale fencing token',
    );
    return { revision };
  }
}
