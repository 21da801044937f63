import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Config } from '../../config.js';
import { DomainError } from '../../domain/errors.js';
import { principalId } from '../principal.js';

/** Only the API is rate limited: probes, metrics, docs and the status page are not. */
function exempt(req: Request): boolean {
  return !req.path.startsWith('/v1/');
}

function limited(scope: 'principal' | 'replica', c: Config): RequestHandler {
  const windowS = c.RATE_LIMIT_WINDOW_S;
  const limit = scope === 'principal' ? c.RATE_LIMIT_PRINCIPAL : c.RATE_LIMIT_REPLICA;
  return rateLimit({
    windowMs: windowS * 1000,
    limit,
    // IETF draft-ietf-httpapi-ratelimit-headers-08: RateLimit and RateLimit-Policy, one item per
    // policy (this one is named by its scope), plus Retry-After on a 429.
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: scope,
    keyGenerator: (_req, res) => (scope === 'principal' ? `p:${principalId(res)}` : 'replica'),
    skip: exempt,
    // The key is the principal, never the client address: no IP validations apply.
    validate: false,
    handler: (req: Request, _res: Response, next) => {
      const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
      const resetMs =
        info?.resetTime === undefined ? windowS * 1000 : info.resetTime.getTime() - Date.now();
      const retryAfterS = Math.max(1, Math.ceil(resetMs / 1000));
      next(
        new DomainError(
          'rate_limited',
          scope === 'principal'
            ? `more than ${limit} requests in ${windowS} s from this principal on this replica; retry after ${retryAfterS} s`
            : `this replica takes at most ${limit} API requests in ${windowS} s; retry after ${retryAfterS} s`,
          { retryAfterS, extensions: { scope, limit, windowSeconds: windowS } },
        ),
      );
    },
  });
}

/**
 * The request rate limits of the API (`/v1/...`), in memory on this replica: per principal
 * (`RATE_LIMIT_PRINCIPAL` requests per `RATE_LIMIT_WINDOW_S`) and for the whole replica
 * (`RATE_LIMIT_REPLICA`). Over a limit: 429 `rate_limited` problem+json with `Retry-After`; every
 * limited response carries `RateLimit` and `RateLimit-Policy`. Put it after authentication, so the
 * principal is known. A limit of 0 is off.
 */
export function rateLimits(c: Config): RequestHandler {
  const [first, second] = [
    c.RATE_LIMIT_PRINCIPAL > 0 ? limited('principal', c) : undefined,
    c.RATE_LIMIT_REPLICA > 0 ? limited('replica', c) : undefined,
  ].filter(h => h !== undefined);
  if (first === undefined)
    return (_req, _res, next) => {
      next();
    };
  if (second === undefined) return first;
  // The principal's limit first: a request it refuses does not use up the replica's budget.
  return (req, res, next) => {
    void first(req, res, err => {
      if (err !== undefined) next(err);
      else void second(req, res, next);
    });
  };
}
