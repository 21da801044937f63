import { GRPCOutOfRangeError } from 'etcd3';
import { DomainError } from '../domain/errors.js';
import type { CallOptions, EtcdStore, KeyValue, RangeSpec } from './store.js';

/**
 * etcd cannot serve a read at the requested past revision: it was compacted away, or it lies
 * beyond the current revision (e.g. an id from before a restore). The caller falls back to now.
 */
export class RevisionUnavailableError extends DomainError {
  override readonly name = 'RevisionUnavailableError';
}

/**
 * Reads `spec` as the store was at `revision` (etcd keeps history until compaction). Fails with
 * {@link RevisionUnavailableError} when etcd answers "compacted" or "future revision".
 */
export async function rangeAtRevision(
  store: EtcdStore,
  spec: Omit<RangeSpec, 'revision'>,
  revision: string,
  opts: CallOptions = {},
): Promise<{ revision: string; kvs: KeyValue[]; count: number }> {
  try {
    const res = await store.range({ ...spec, revision }, opts);
    // The header carries the current revision; the data is as of `revision`.
    return { ...res, revision };
  } catch (err) {
    if (err instanceof DomainError && err.cause instanceof GRPCOutOfRangeError) {
      throw new RevisionUnavailableError(
        'not_found',
        `etcd no longer (or not yet) has revision ${revision}: ${err.cause.message}`,
        { cause: err },
      );
    }
    throw err;
  }
}
