/**
 * Errors the etcd adapter raises. They name what etcd did, not what it means to a caller: the
 * domain maps them to its own stable codes (see `asDomainError` in `src/domain/errors.ts`).
 */
export type EtcdErrorCode =
  'etcd_unavailable' | 'etcd_rejected' | 'etcd_nospace' | 'revision_unavailable' | 'watch_lost';

/** Base class of every error raised by `src/etcd/`. */
export class EtcdError extends Error {
  override readonly name: string = 'EtcdError';
  readonly code: EtcdErrorCode;
  readonly retryAfterS: number | undefined;

  constructor(
    code: EtcdErrorCode,
    detail: string,
    opts: { retryAfterS?: number | undefined; cause?: unknown } = {},
  ) {
    super(detail, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryAfterS = opts.retryAfterS;
  }
}

/**
 * etcd did not answer within its deadline or is unreachable. `outcomeUnknown`: the call was sent
 * and may have been applied (a write whose answer was lost); otherwise it was never applied.
 */
export class EtcdUnavailableError extends EtcdError {
  override readonly name = 'EtcdUnavailableError';
  readonly outcomeUnknown: boolean;

  constructor(detail: string, retryAfterS: number, cause?: unknown, outcomeUnknown = false) {
    super('etcd_unavailable', detail, { retryAfterS, cause });
    this.outcomeUnknown = outcomeUnknown;
  }
}

/**
 * etcd raised its NOSPACE alarm (the backend reached `--quota-backend-bytes`): it serves reads
 * and deletes but refuses every write until an operator compacts, defragments and disarms it.
 */
export class EtcdNoSpaceError extends EtcdError {
  override readonly name = 'EtcdNoSpaceError';

  constructor(detail: string, retryAfterS: number, cause?: unknown) {
    super('etcd_nospace', detail, { retryAfterS, cause });
  }
}

/** etcd answered with an error that is not about reachability (a bug or a misconfiguration). */
export class EtcdRejectedError extends EtcdError {
  override readonly name = 'EtcdRejectedError';

  constructor(detail: string, cause?: unknown) {
    super('etcd_rejected', detail, { cause });
  }
}

/**
 * etcd cannot serve a read at the requested past revision: it was compacted away, or it lies
 * beyond the current revision (e.g. an id from before a restore). The caller falls back to now.
 */
export class RevisionUnavailableError extends EtcdError {
  override readonly name = 'RevisionUnavailableError';

  constructor(detail: string, cause?: unknown) {
    super('revision_unavailable', detail, { cause });
  }
}

/** The watch could not resume (compaction): the caller must re-read and watch again. */
export class WatchLostError extends EtcdError {
  override readonly name = 'WatchLostError';

  constructor(detail: string, cause?: unknown) {
    super('watch_lost', detail, { cause });
  }
}
