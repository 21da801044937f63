import type { SemaphoreContext } from '../slots/semaphore-context.js';
import type { BundleKeys } from './bundle.js';

/**
 * Removes what a bundle acquire that will not be granted put into etcd, all keys together: its
 * own lease (which takes every key with it) or, under a session, the index and member keys in one
 * transaction guarded by their shared create revision. With `token` undefined (the acquire
 * transaction failed midway, its keys may or may not exist) the keys are deleted unguarded.
 */
export function withdrawBundle(
  c: SemaphoreContext,
  keys: BundleKeys,
  token: string | undefined,
  perGrantLeaseId: string | undefined,
): void {
  if (perGrantLeaseId !== undefined) {
    c.withdraw.lease(perGrantLeaseId);
    return;
  }
  const all = [keys.index, ...keys.members];
  c.cleanup.schedule(`delete bundle ${keys.index}`, signal =>
    c.store.txn(
      {
        compare:
          token === undefined
            ? []
            : all.map(key => ({ key, target: 'create', op: '==', value: token })),
        success: all.map(key => ({ delete: { key } })),
      },
      { signal },
    ),
  );
}
