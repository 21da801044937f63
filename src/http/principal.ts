import type { Response } from 'express';

/**
 * The stable id of the caller of a request, for quotas and rate limits: the `id` of the principal
 * the authentication middleware left in `res.locals.principal`, or `anonymous` when there is none
 * (no authentication configured, or a request the middleware did not see).
 */
export function principalId(res: Response): string {
  const principal = (res.locals as { principal?: { id?: unknown } }).principal;
  return typeof principal?.id === 'string' && principal.id !== '' ? principal.id : 'anonymous';
}
