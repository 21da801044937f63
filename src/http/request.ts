import type { Request, Response } from 'express';
import { DomainError, InvalidInputError } from '../domain/errors.js';
import type { Lifecycle } from '../lifecycle.js';

/** The credential in `Authorization: Bearer <secret>`, or a 400 naming the header. */
export function bearer(req: Request): string {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(header);
  if (match?.[1] === undefined) {
    throw new InvalidInputError(
      'the holder secret is missing: send "Authorization: Bearer <secret>"',
      [
        {
          pointer: '/headers/authorization',
          detail: 'expected "Bearer <secret>" as returned with the grant',
        },
      ],
    );
  }
  return match[1];
}

/**
 * A signal that aborts when the client goes away before the response is written, or when the
 * process starts draining. Long-polls pass it down so a vanished waiter leaves the queue at once.
 * One controller and two listeners per request (cheaper than `AbortSignal.any` on the hot path);
 * the drain listener is removed when the response closes.
 */
export function requestSignal(res: Response, lifecycle: Lifecycle): AbortSignal {
  const ctl = new AbortController();
  const drain = lifecycle.signal;
  if (drain.aborted) {
    ctl.abort(drain.reason);
    return ctl.signal;
  }
  const onDrain = () => {
    ctl.abort(drain.reason);
  };
  drain.addEventListener('abort', onDrain, { once: true });
  res.once('close', () => {
    drain.removeEventListener('abort', onDrain);
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
