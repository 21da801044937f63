import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore } from '../../etcd/store.js';
import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder, encodeHolder, type FencingToken } from '../grant.js';
import { grantGoneOrNotHolder, ownerProbe, readOwnedKey } from '../ownership.js';

/**
 * Replaces the value published with a grant (an election leader's "proclaim"), only while the
 * caller's key is still the one created at `token` and nobody changed it since it was read. The
 * lease and the token do not change (`ignoreLease`).
 */
export async function proclaimValue(
  store: EtcdStore,
  space: ContenderSpace,
  p: { name: string; token: FencingToken; secret: string; value: string },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { kv } = await readOwnedKey(store, space, p, signal);
  const record = decodeHolder(kv);
  if (record === undefined) throw new DomainError('internal', 'the holder record is unreadable');
  const res = await store.txn(
    {
      compare: [
        { key: kv.key, target: 'create', op: '==', value: p.token },
        { key: kv.key, target: 'mod', op: '==', value: kv.modRevision },
      ],
      success: [
        {
          put: {
            key: kv.key,
            value: encodeHolder({ ...record, value: p.value }),
            ignoreLease: true,
          },
        },
      ],
      failure: [ownerProbe(space.contenders(p.name), p.token)],
    },
    { signal },
  );
  if (!res.succeeded) {
    const live = rangeAt(res.results, 0).count;
    if (live > 0) {
      throw new DomainError('acquire_in_progress', 'a concurrent proclaim won; retry', {
        retryAfterS: 0,
      });
    }
    throw grantGoneOrNotHolder(space.noun, p.name, p.token, live);
  }
}
