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

const pass: RequestHandler = (_req, _res, next) => {
  next();
};

/**
 * The replica's request rate limit of the API (`/v1/...`): at most `RATE_LIMIT_REPLICA` requests
 * per `RATE_LIMIT_WINDOW_S` on this replica, whoever sends them. Put it before authentication, so
 * requests with bad credentials count too. Over it: 429 `rate_limited` (`scope: "replica"`) with
 * `Retry-After`; every limited response carries `RateLimit` and `RateLimit-Policy`. 0 is off.
 */
export function replicaRateLimit(c: Config): RequestHandler {
  return c.RATE_LIMIT_REPLICA > 0 ? limited('replica', c) : pass;
}

/**
 * The per-principal request rate limit of the API, in memory on this replica:
 * `RATE_LIMIT_PRINCIPAL` requests per `RATE_LIMIT_WINDOW_S`. Put it after authentication, so the
 * principal is known. Over it: 429 `rate_limited` (`scope: "principal"`). 0 is off.
 */
export function principalRateLimit(c: Config): RequestHandler {
  return c.RATE_LIMIT_PRINCIPAL > 0 ? limited('principal', c) : pass;
}
