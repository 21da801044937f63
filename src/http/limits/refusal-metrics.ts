import type { ErrorRequestHandler } from 'express';
import { DomainError } from '../../domain/errors.js';
import { limitNames, type Metrics } from '../../metrics.js';

const known: ReadonlySet<string> = new Set(limitNames);

/** The `limit` label of a refusal by a rate limit or quota, if `err` is one. */
export function refusedLimit(err: unknown): string | undefined {
  if (!(err instanceof DomainError)) return undefined;
  const ext = err.extensions;
  const label =
    err.code === 'rate_limited'
      ? `rate_${String(ext.scope)}`
      : err.code === 'quota_exceeded'
        ? String(ext.quota)
        : err.code === 'storage_quota_exceeded'
          ? `fenced_${String(ext.scope)}`
          : undefined;
  return label !== undefined && known.has(label) ? label : undefined;
}

/**
 * Counts every refusal by a rate limit or quota in `slotlock_limit_refusals_total{limit}` (a
 * bounded label), then passes the error on to the problem handler. Mount it just before it.
 */
export function countLimitRefusals(metrics: Metrics): ErrorRequestHandler {
  return (err: unknown, _req, _res, next) => {
    const limit = refusedLimit(err);
    if (limit !== undefined) metrics.limitRefusals.inc({ limit });
    next(err);
  };
}
