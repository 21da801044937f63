import type { ContenderSpace } from '../etcd/keys.js';
import { rangeAt, type EtcdStore } from '../etcd/store.js';
import type { Cleanup } from './cleanup.js';
import { DomainError } from './errors.js';
import { decodeHolder, type FencingToken } from './grant.js';

/** What an administrator's forced end removed. */
export interface ForcedEnd {
  /** The holder or candidate label of the grant or leadership that was ended. */
  readonly holder: string | undefined;
  /** True when it ran under a client session (whose other grants are left alone). */
  readonly session: boolean;
}

/**
 * Ends the grant (slot) or leadership (election) created at `token` without its secret, as if
 * its lease had expired: deletes its key (and a session grant's quota ledger key) only while it is
 * still the one created at `token` (so a newer holder is never touched), then revokes its per-grant lease in the background. No release
 * marker is written and a lock-delay key stays, because the holder may still be acting: that is
 * what an expiry means to the next holder too. Waiters are promoted by the watch as on expiry.
 * Fails with `grant_gone` when nothing of `name` was created at `token`.
 */
export async function forceEnd(
  store: EtcdStore,
  space: ContenderSpace,
  cleanup: Cleanup,
  target: { name: string; token: FencingToken },
  opts: { signal?: AbortSignal },
): Promise<ForcedEnd> {
  const gone = () =>
    new DomainError(
      'grant_gone',
      `nothing of ${space.noun} "${target.name}" was created at ${target.token} (released, expired or never issued)`,
    );
  const found = await store.txn(
    {
      compare: [],
      success: [
        {
          range: {
            prefix: space.contenders(target.name),
            minCreateRevision: target.token,
            maxCreateRevision: target.token,
          },
        },
      ],
    },
    opts,
  );
  const kv = rangeAt(found.results, 0).kvs[0];
  if (kv === undefined) throw gone();
  const record = decodeHolder(kv);
  // A session grant's quota ledger key lives on the session's lease: it goes with the grant.
  const ledgerKey = record?.q;
  const deleted = await store.txn(
    {
      compare: [{ key: kv.key, target: 'create', op: '==', value: target.token }],
      success: [
        { delete: { key: kv.key } },
        ...(ledgerKey === undefined ? [] : [{ delete: { key: ledgerKey } }]),
      ],
    },
    { ...opts, group: space.keysOf(target.name) },
  );
  if (!deleted.succeeded) throw gone();
  const session = record?.session === true;
  if (!session && kv.lease !== '0') {
    cleanup.schedule(`revoke lease ${kv.lease} (forced end)`, signal =>
      store.leaseRevoke(kv.lease, { signal }),
    );
  }
  return { holder: record?.holder, session };
}
