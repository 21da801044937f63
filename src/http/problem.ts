import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { asDomainError, DomainError, InvalidInputError, type ErrorCode } from '../domain/errors.js';
import { requestLogger } from './request-log.js';

/** HTTP status of each stable error code; the only place codes become statuses. */
export const statusOf: Record<ErrorCode, number> = {
  invalid_input: 400,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  slot_busy: 409,
  wait_timeout: 409,
  wait_cancelled: 409,
  capacity_conflict: 409,
  not_holder: 403,
  unauthenticated: 401,
  forbidden: 403,
  grant_gone: 410,
  session_gone: 410,
  idempotency_conflict: 422,
  rate_limited: 429,
  quota_exceeded: 429,
  storage_quota_exceeded: 507,
  acquire_in_progress: 409,
  not_leader: 409,
  stale_token: 409,
  etcd_unavailable: 503,
  etcd_nospace: 503,
  etcd_restored: 503,
  draining: 503,
  internal: 500,
};

const titles: Record<ErrorCode, string> = {
  invalid_input: 'Invalid input',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  slot_busy: 'Slot busy',
  wait_timeout: 'Wait timed out',
  wait_cancelled: 'Wait cancelled',
  capacity_conflict: 'Capacity conflict',
  not_holder: 'Not the holder',
  unauthenticated: 'Authentication required',
  forbidden: 'Forbidden',
  grant_gone: 'Grant gone',
  session_gone: 'Session gone',
  idempotency_conflict: 'Idempotency key reused',
  rate_limited: 'Too many requests',
  quota_exceeded: 'Quota exceeded',
  storage_quota_exceeded: 'Storage quota exceeded',
  acquire_in_progress: 'Acquire in progress',
  not_leader: 'Not the leader',
  stale_token: 'Stale fencing token',
  etcd_unavailable: 'etcd unavailable',
  etcd_nospace: 'etcd out of space',
  etcd_restored: 'etcd restored from a snapshot',
  draining: 'Shutting down',
  internal: 'Internal error',
};

/** The `type` URI of a problem code: stable, and documented in the README. */
export function problemType(code: ErrorCode): string {
  return `urn:slotlock:problem:${code}`;
}

/** Writes an RFC 9457 application/problem+json response for `err`. */
export function sendProblem(res: Response, err: DomainError): void {
  const status = statusOf[err.code];
  if (err.retryAfterS !== undefined) res.setHeader('Retry-After', String(err.retryAfterS));
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="slotlock"');
  const requestId = res.getHeader('X-Request-Id');
  res
    .status(status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: problemType(err.code),
        title: titles[err.code],
        status,
        detail: err.message,
        code: err.code,
        ...(typeof requestId === 'string' ? { instance: `urn:slotlock:request:${requestId}` } : {}),
        ...(err.retryAfterS === undefined ? {} : { retryAfterSeconds: err.retryAfterS }),
        ...err.extensions,
      }),
    );
}

/** 404 for any route nobody matched. */
export const notFound: RequestHandler = req => {
  throw new DomainError('not_found', `no route for ${req.method} ${req.path}`);
};

/** The last middleware: every error becomes problem+json; unexpected ones are logged as 500. */
export const problemHandler: ErrorRequestHandler = (err: unknown, req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const problem = toDomainError(err, () => requestLogger(req, res));
  // A body refused unread (too large, not JSON) is not drained: the connection closes after the
  // answer, so a 100 MB upload cannot keep a replica reading it.
  const status = statusOf[problem.code];
  if ((status === 413 || status === 415) && !req.complete) res.setHeader('Connection', 'close');
  sendProblem(res, problem);
};

function toDomainError(err: unknown, log: () => Logger): DomainError {
  const known = asDomainError(err);
  if (known !== undefined && known.code !== 'internal') return known;
  if (known !== undefined) {
    log().error({ err }, 'etcd rejected a call');
    return known;
  }
  // The router could not decode a path parameter (`%ZZ`, `%C3%28`): the client's input is bad.
  if (err instanceof URIError) {
    return new InvalidInputError('the path contains a malformed percent-encoding', [
      { pointer: '/params', detail: 'not a valid percent-encoded UTF-8 string' },
    ]);
  }
  log().error({ err }, 'unexpected error');
  return new DomainError('internal', 'an unexpected error occurred; it has been logged');
}
