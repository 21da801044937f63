import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore, TxnOp, TxnResult } from '../../etcd/store.js';
import { delayKeysOp } from './lock-delay.js';

/** What the acquire transaction needs: the caller's key, its record, and the lease it goes on. */
export interface AcquireTxnInput {
  name: string;
  key: string;
  value: string;
  leaseId: string;
  capacity: number;
  session?: { markerKey: string } | undefined;
  /** A per-principal quota ledger key, put on the same lease when the key is put. */
  quotaKey?: string | undefined;
}

/**
 * The one transaction of an acquire (one round trip when the slot is free):
 *
 *   If   my key does not exist yet [and the session marker still exists]
 *   Then put my key on my lease; read the first N keys by create revision; read the delay keys
 *   Else read my key (a retry with the same Idempotency-Key); the first N; the delay keys;
 *        [the marker's count]
 *
 * On success the header revision is my key's create revision: the fencing token. I hold if my
 * key is among the first N and enough places are not blocked by lock-delay.
 */
export async function runAcquireTxn(
  store: EtcdStore,
  space: ContenderSpace,
  a: AcquireTxnInput,
  signal: AbortSignal | undefined,
): Promise<{ succeeded: boolean; revision: string; results: TxnResult[] }> {
  const head: TxnOp = {
    range: {
      prefix: space.contenders(a.name),
      sort: { target: 'create', order: 'asc' },
      limit: a.capacity,
    },
  };
  const marker = a.session?.markerKey;
  return store.txn(
    {
      compare: [
        { key: a.key, target: 'create', op: '==', value: '0' },
        ...(marker === undefined
          ? []
          : [{ key: marker, target: 'version' as const, op: '>' as const, value: '0' }]),
      ],
      success: [
        { put: { key: a.key, value: a.value, lease: a.leaseId } },
        head,
        delayKeysOp(space, a.name),
        ...(a.quotaKey === undefined
          ? []
          : [{ put: { key: a.quotaKey, value: a.key, lease: a.leaseId } }]),
      ],
      failure: [
        { range: { key: a.key } },
        head,
        delayKeysOp(space, a.name),
        ...(marker === undefined ? [] : [{ range: { key: marker, countOnly: true } }]),
      ],
    },
    // Group commit: under load, batched with other slots' acquires and releases into one etcd call.
    { signal, group: space.keysOf(a.name) },
  );
}
