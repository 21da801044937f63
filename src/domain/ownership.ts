import type { ContenderSpace } from '../etcd/keys.js';
import type { EtcdStore, KeyValue, TxnOp } from '../etcd/store.js';
import { rangeAt } from '../etcd/store.js';
import { DomainError } from './errors.js';
import type { FencingToken } from './grant.js';
import { idOfSecret } from './secrets.js';

/**
 * The error for a secret that does not match the key created at `token`: if some contender of the
 * slot still has that create revision the caller is not its holder (403); otherwise it is gone (410).
 */
export function grantGoneOrNotHolder(
  noun: string,
  name: string,
  token: FencingToken,
  liveWithToken: number,
): DomainError {
  return liveWithToken > 0
    ? new DomainError(
        'not_holder',
        `the secret does not belong to grant ${token} of ${noun} "${name}"`,
      )
    : new DomainError(
        'grant_gone',
        `grant ${token} of ${noun} "${name}" no longer exists (released, or its lease expired)`,
      );
}

/** A probe for "does any contender of this name have create revision `token`?". */
export function ownerProbe(contendersPrefix: string, token: FencingToken): TxnOp {
  return {
    range: {
      prefix: contendersPrefix,
      minCreateRevision: token,
      maxCreateRevision: token,
      countOnly: true,
    },
  };
}

/**
 * Reads the caller's key (named by its secret) and checks it is the one created at `token`;
 * also returns the lease of its lock-delay key, if any. Fails with `grant_gone` or `not_holder`.
 */
export async function readOwnedKey(
  store: EtcdStore,
  space: ContenderSpace,
  g: { name: string; token: FencingToken; secret: string },
  signal: AbortSignal | undefined,
): Promise<{ kv: KeyValue; delayLease: string | undefined }> {
  const key = space.contender(g.name, idOfSecret(g.secret));
  const res = await store.txn(
    {
      compare: [{ key, target: 'create', op: '==', value: g.token }],
      success: [{ range: { key } }, { range: { key: space.delay(g.name, g.token) } }],
      failure: [ownerProbe(space.contenders(g.name), g.token)],
    },
    { signal },
  );
  const kv = rangeAt(res.results, 0).kvs[0];
  if (!res.succeeded || kv === undefined) {
    throw grantGoneOrNotHolder(space.noun, g.name, g.token, rangeAt(res.results, 0).count);
  }
  const delay = rangeAt(res.results, 1).kvs[0];
  return { kv, delayLease: delay === undefined || delay.lease === '0' ? undefined : delay.lease };
}
