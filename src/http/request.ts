import type { Request, Response } from 'express';
import { DomainError, InvalidInputError } from '../domain/errors.js';
import type { Lifecycle } from '../lifecycle.js';
import { authContextOf } from '../auth/principal.js';

const secretPattern = /^(?:Bearer )?([A-Za-z0-9._~+/=-]{1,512})$/;
// The auth scheme is case-insensitive (RFC 9110 11.1): "bearer <secret>" is the same credential.
const legacyPattern = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/i;

/**
 * The holder secret of a grant, session or leadership, from `Slotlock-Secret: <secret>` (a leading
 * `Bearer ` is tolerated). While the server has no authentication configured, an old client's
 * `Authorization: Bearer <secret>` is accepted too; with authentication on, `Authorization`
 * carries the caller's own credential. A 400 naming the header when it is missing or malformed.
 */
export function holderSecret(req: Request, res: Response): string {
  const header = req.headers['slotlock-secret'];
  const own = typeof header === 'string' ? secretPattern.exec(header) : null;
  if (own?.[1] !== undefined) return own[1];
  const legacy =
    header === undefined && !authContextOf(res).enforced ? req.headers.authorization : undefined;
  const match = legacy === undefined ? null : legacyPattern.exec(legacy);
  if (match?.[1] !== undefined) return match[1];
  const wrong = malformedSecret(header, legacy);
  if (wrong !== undefined) throw wrong;
  throw new InvalidInputError('the holder secret is missing: send "Slotlock-Secret: <secret>"', [
    {
      pointer: '/headers/slotlock-secret',
      detail: 'expected the secret returned with the grant, session or leadership',
    },
  ]);
}

/** Why a holder secret that was sent is not usable: a malformed value, or a missing scheme. */
function malformedSecret(
  header: string | string[] | undefined,
  legacy: string | undefined,
): InvalidInputError | undefined {
  if (header !== undefined) {
    return new InvalidInputError(
      'the Slotlock-Secret header is malformed: send the secret exactly as it was returned',
      [{ pointer: '/headers/slotlock-secret', detail: 'expected 1-512 of [A-Za-z0-9._~+/=-]' }],
    );
  }
  if (legacy === undefined) return undefined;
  const scheme = /^(\S+) +\S/.exec(legacy)?.[1];
  const detail =
    scheme === undefined
      ? 'the Authorization header has no scheme'
      : scheme.toLowerCase() === 'bearer'
        ? 'the secret in the Authorization header is malformed'
        : `the Authorization header uses the scheme "${scheme}", not Bearer`;
  return new InvalidInputError(
    `${detail}: send the secret as "Slotlock-Secret: <secret>" ("Authorization: Bearer <secret>" also works while the server has no authentication)`,
    [{ pointer: '/headers/authorization', detail: 'expected "Bearer <secret>"' }],
  );
}

/**
 * A signal that aborts when the client goes away before the response is written, or when the
 * process starts draining. Long-polls pass it down so a vanished waiter leaves the queue at once.
 * One controller and one listener per request (cheaper than `AbortSignal.any` on the hot path);
 * the drain hook ({@link Lifecycle.enlist}) is removed when the response closes.
 */
export function requestSignal(res: Response, lifecycle: Lifecycle): AbortSignal {
  const ctl = new AbortController();
  const leave = lifecycle.enlist(ctl);
  if (ctl.signal.aborted) return ctl.signal;
  res.once('close', () => {
    leave();
    if (!res.writableEnded) {
      ctl.abort(
        new DomainError('wait_cancelled', 'the client closed the connection while waiting'),
      );
    }
  });
  return ctl.signal;
}

/** The RFC 7240 `Prefer: wait=N` preference in milliseconds, if present. */
export function preferWaitMs(req: Request): number | undefined {
  const raw = req.headers.prefer;
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  if (header === undefined) return undefined;
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header);
  if (match?.[1] === undefined) return undefined;
  return Number(match[1]) * 1000;
}

/** The Idempotency-Key header value, if any. */
export function idempotencyKeyHeader(req: Request): string | undefined {
  const v = req.headers['idempotency-key'];
  return typeof v === 'string' ? v : undefined;
}

/** Rejects requests whose body is not JSON (415) when a body is present. */
export function requireJson(req: Request): void {
  const length = req.headers['content-length'];
  const hasBody =
    (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json')) {
    throw new DomainError('unsupported_media_type', 'send the request body as application/json');
  }
}
