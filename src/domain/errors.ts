import { errorCodes, type ErrorCode } from '../error-codes.js';

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

/** True when `err` is a {@link DomainError} with the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is DomainError {
  return err instanceof DomainError && err.code === code;
}
