/**
 * Typed errors of the slotlock client. Every failure the client reports on purpose is a
 * {@link SlotlockError} whose `code` is either a stable server code (from the RFC 9457
 * problem+json body) or one of the client-side codes below.
 */

import { serverErrorCodes } from './error-codes.js';

export { serverErrorCodes };

/**
 * Codes the client makes up itself:
 * - `unreachable` (status 0): no HTTP answer at all (connection refused or reset, DNS, or the
 *   per-call timeout passed); the request may or may not have reached the server.
 * - `unexpected_response`: an answer that is neither the expected JSON nor problem+json (a proxy
 *   error page, a truncated body).
 * - `deadline_passed`: a grant, session or leadership reached its local safety deadline before a
 *   keepalive confirmed it; the holder must assume it is lost.
 * - `released`: the holder released the grant, ended the session, or resigned the leadership.
 * - `invalid_options`: the client was constructed with bad options (no URL, a URL without an
 *   http(s) scheme); thrown by the constructor.
 * - `credential_failed`: the `credential` function threw (its error is the `cause`).
 */
export const clientErrorCodes = [
  'unreachable',
  'unexpected_response',
  'deadline_passed',
  'released',
  'invalid_options',
  'credential_failed',
] as const;

/** A code a {@link SlotlockError} can carry. Unknown server codes are passed through as strings. */
export type SlotlockErrorCode =
  (typeof serverErrorCodes)[number] | (typeof clientErrorCodes)[number] | (string & {});

/** An RFC 9457 problem details body as slotlock sends it (extension members kept as-is). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  retryAfterSeconds?: number;
  errors?: { pointer: string; detail: string }[];
  [extension: string]: unknown;
}

/** Construction options of {@link SlotlockError}. */
export interface SlotlockErrorInit {
  code: SlotlockErrorCode;
  /** HTTP status; 0 when no HTTP answer was received. */
  status: number;
  detail: string;
  retryAfterS?: number | undefined;
  problem?: ProblemDetails | undefined;
  cause?: unknown;
}

/**
 * Any failure reported by the slotlock client. Branch on `code` (stable), not on `message`.
 * `retryAfterS` comes from the `Retry-After` header or the problem's `retryAfterSeconds`.
 */
export class SlotlockError extends Error {
  override readonly name = 'SlotlockError';
  readonly code: SlotlockErrorCode;
  readonly status: number;
  readonly detail: string;
  readonly retryAfterS: number | undefined;
  /** The problem+json body as received, when the server sent one. */
  readonly problem: ProblemDetails | undefined;

  constructor(init: SlotlockErrorInit) {
    super(`${init.code}: ${init.detail}`, init.cause === undefined ? {} : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.detail = init.detail;
    this.retryAfterS = init.retryAfterS;
    this.problem = init.problem;
  }
}

/** True when `err` is a {@link SlotlockError}, and, if `code` is given, carries that code. */
export function isSlotlockError(err: unknown, code?: SlotlockErrorCode): err is SlotlockError {
  return err instanceof SlotlockError && (code === undefined || err.code === code);
}

/**
 * True for failures worth retrying: no answer, etcd unavailable, a draining replica, or any 5xx.
 * 4xx answers (busy, timeouts, conflicts, bad input) are final and never retried.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof SlotlockError)) return false;
  return (
    err.code === 'unreachable' ||
    err.code === 'etcd_unavailable' ||
    err.code === 'draining' ||
    err.status >= 500
  );
}

/**
 * True when the server says a grant, term or session no longer exists or is not ours to renew
 * (`grant_gone`, `session_gone`, `not_holder`). A `deadline_passed` loss is not included: the
 * server may still hold it, so releasing it is still worth a try.
 */
export function isLoss(err: unknown): boolean {
  return (
    isSlotlockError(err, 'grant_gone') ||
    isSlotlockError(err, 'session_gone') ||
    isSlotlockError(err, 'not_holder')
  );
}
