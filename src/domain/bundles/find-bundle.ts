import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import type { FencingToken } from '../grant.js';
import { ownerProbe } from '../ownership.js';
import { idOfSecret } from '../secrets.js';
import { bundleKeys, decodeIndex, type BundleIndex, type BundleKeys } from './bundle.js';
import type { BundleContext } from './bundle-context.js';

/** A live bundle found by its secret and token. */
export interface FoundBundle {
  id: string;
  keys: BundleKeys;
  index: BundleIndex;
  leaseId: string;
}

/**
 * Reads the index key of the bundle the caller's secret names and checks it was created at
 * `token`. Fails with `grant_gone` (released or expired) or `not_holder` (another secret).
 */
export async function findBundle(
  c: BundleContext,
  b: { token: FencingToken; secret: string },
  signal: AbortSignal | undefined,
): Promise<FoundBundle> {
  const id = idOfSecret(b.secret);
  const indexKey = c.keys.bundle(id);
  const res = await c.store.txn(
    {
      compare: [{ key: indexKey, target: 'create', op: '==', value: b.token }],
      success: [{ range: { key: indexKey } }],
      failure: [ownerProbe(c.keys.bundles, b.token)],
    },
    { signal },
  );
  const kv = rangeAt(res.results, 0).kvs[0];
  if (!res.succeeded || kv === undefined) {
    throw rangeAt(res.results, 0).count > 0
      ? new DomainError('not_holder', `the secret does not belong to bundle ${b.token}`)
      : new DomainError(
          'grant_gone',
          `bundle ${b.token} no longer exists (released, or its lease expired)`,
        );
  }
  const index = decodeIndex(kv);
  if (index === undefined) {
    throw new DomainError('internal', `bundle ${b.token} has an unreadable index record`);
  }
  return { id, keys: bundleKeys(c.keys, c.space, id, index.slots), index, leaseId: kv.lease };
}
