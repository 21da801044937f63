import { DomainError } from '../errors.js';

/**
 * The `outcome` label of an acquire (single slot or bundle) that failed: the same few values for
 * both, so dashboards can sum them.
 */
export function acquireOutcome(err: unknown): string {
  if (!(err instanceof DomainError)) return 'error';
  switch (err.code) {
    case 'slot_busy':
      return 'busy';
    case 'wait_timeout':
      return 'timeout';
    case 'wait_cancelled':
      return 'cancelled';
    case 'capacity_conflict':
    case 'idempotency_conflict':
    case 'acquire_in_progress':
      return 'conflict';
    default:
      return 'error';
  }
}
