import { errorCodes, type ErrorCode } from '../error-codes.js';
import { EtcdError, EtcdUnavailableError as AdapterUnavailableError } from '../etcd/errors.js';

/** Stable error codes: clients branch on these; the HTTP layer alone maps them to statuses. */
export { errorCodes, type ErrorCode };

/** One field-level validation problem, as an RFC 6901 JSON pointer and a message. */
export interface FieldError {
  pointer: string;
  detail: string;
}

/**
 * Base class for every error the domain reports on purpose. `code` is stable; `detail` is for
 * humans; `extensions` become extra members of the problem+json body (never secrets).
 */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  readonly code: ErrorCode;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly retryAfterS: number | undefined;

  constructor(
    code: ErrorCode,
    detail: string,
    opts: { extensions?: Record<string, unknown>; retryAfterS?: number; cause?: unknown } = {},
  ) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.extensions = opts.extensions ?? {};
    this.retryAfterS = opts.retryAfterS;
  }
}

/** Input that fails validation; carries one entry per bad field. */
export class InvalidInputError extends DomainError {
  override readonly name = 'InvalidInputError';
  readonly errors: readonly FieldError[];

  constructor(detail: string, errors: readonly FieldError[] = []) {
    super('invalid_input', detail, { extensions: errors.length > 0 ? { errors } : {} });
    this.errors = errors;
  }
}

/** etcd did not answer within its deadline or is unreachable; nothing was granted. */
export class EtcdUnavailableError extends DomainError {
  override readonly name = 'EtcdUnavailableError';

  constructor(detail: string, retryAfterS: number, cause?: unknown) {
    super('etcd_unavailable', detail, { retryAfterS, cause });
  }
}

/**
 * Maps what the etcd adapter raised to the domain's codes: unreachable etcd is `etcd_unavailable`,
 * anything else etcd said is `internal` (a bug or a misconfiguration, logged by the HTTP layer).
 * Domain errors pass through; any other value gives `undefined`.
 */
export function asDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  if (!(err instanceof EtcdError)) return undefined;
  switch (err.code) {
    case 'etcd_unavailable':
      if (err instanceof AdapterUnavailableError && err.outcomeUnknown) {
        // A write that may have been applied: say so, and how to find out (retry with the key).
        return new DomainError('etcd_unavailable', err.message, {
          retryAfterS: err.retryAfterS ?? 1,
          extensions: { outcome: 'unknown' },
          cause: err,
        });
      }
      return new EtcdUnavailableError(err.message, err.retryAfterS ?? 1, err);
    case 'etcd_nospace':
      return new DomainError('etcd_nospace', err.message, {
        retryAfterS: err.retryAfterS ?? 1,
        cause: err,
      });
    case 'revision_unavailable':
      return new DomainError('not_found', err.message, { cause: err });
    default:
      return new DomainError('internal', err.message, { cause: err });
  }
}

/** True when `err` is a {@link DomainError} with the given code (see {@link asDomainError}). */
export function hasCode(err: unknown, code: ErrorCode): err is DomainError {
  return err instanceof DomainError && err.code === code;
}
