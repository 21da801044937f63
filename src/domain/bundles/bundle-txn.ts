import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore, TxnResult } from '../../etcd/store.js';
import type { BundleKeys, BundleSlot } from './bundle.js';
import { headOps } from './bundle-heads.js';

/** What the bundle's acquire transaction needs. */
export interface BundleTxnInput {
  keys: BundleKeys;
  slots: readonly BundleSlot[];
  indexValue: string;
  memberValues: readonly string[];
  leaseId: string;
  session?: { markerKey: string } | undefined;
}

/** The answer, and where in its results the per-slot heads start. */
export interface BundleTxnAnswer {
  succeeded: boolean;
  revision: string;
  results: TxnResult[];
  headsAt: number;
}

/**
 * The one transaction of a bundle acquire:
 *
 *   If   the bundle's index key does not exist yet [and the session marker still exists]
 *   Then put the index key and one member key in EVERY slot, all on the bundle's lease;
 *        read the first N contenders and the lock-delay keys of every slot
 *   Else read the index key (a retry with the same Idempotency-Key); the same heads; [marker count]
 *
 * All member keys are created at the transaction's revision, so two bundles (or a bundle and a
 * single-slot acquire) are ordered the same way in every slot they share: a global ticket order,
 * in which no cycle of waiters can form. The transaction writes keys of several slots, so it is
 * sent on its own, never in a group-commit batch (whose members must touch one slot each).
 */
export async function runBundleTxn(
  store: EtcdStore,
  space: ContenderSpace,
  a: BundleTxnInput,
  signal: AbortSignal | undefined,
): Promise<BundleTxnAnswer> {
  const heads = headOps(space, a.slots);
  const marker = a.session?.markerKey;
  const res = await store.txn(
    {
      compare: [
        { key: a.keys.index, target: 'create', op: '==', value: '0' },
        ...(marker === undefined
          ? []
          : [{ key: marker, target: 'version' as const, op: '>' as const, value: '0' }]),
      ],
      success: [
        { put: { key: a.keys.index, value: a.indexValue, lease: a.leaseId } },
        ...a.keys.members.map((key, i) => ({
          put: { key, value: a.memberValues[i] ?? '', lease: a.leaseId },
        })),
        ...heads,
      ],
      failure: [
        { range: { key: a.keys.index } },
        ...heads,
        ...(marker === undefined ? [] : [{ range: { key: marker, countOnly: true } }]),
      ],
    },
    { signal },
  );
  return { ...res, headsAt: res.succeeded ? 1 + a.keys.members.length : 1 };
}
