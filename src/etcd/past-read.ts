import { GRPCOutOfRangeError } from 'etcd3';
import { EtcdError, RevisionUnavailableError } from './errors.js';
import type { CallOptions, EtcdStore, KeyValue, RangeSpec } from './store.js';

export { RevisionUnavailableError };

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
    if (err instanceof EtcdError && err.cause instanceof GRPCOutOfRangeError) {
      throw new RevisionUnavailableError(
        `etcd no longer (or not yet) has revision ${revision}: ${err.cause.message}`,
        err,
      );
    }
    throw err;
  }
}
