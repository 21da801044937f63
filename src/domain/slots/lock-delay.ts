import type { EtcdStore, KeyValue, TxnOp } from '../../etcd/store.js';
import type { ContenderSpace } from '../../etcd/keys.js';
import { DomainError } from '../errors.js';
import type { FencingToken } from '../grant.js';

/**
 * Lock-delay (Chubby, Consul), per slot and opt-in. Each holder of such a slot also owns a delay
 * key `#d/<token>` on a second lease whose TTL is the grant's TTL plus the delay, renewed with the
 * grant. A clean release deletes both keys in one transaction, so the place opens at once. When
 * the holder's lease expires instead, its delay key outlives it by the delay and still occupies a
 * place: a paused holder's in-flight writes can drain before anyone else is granted. etcd is the
 * timer; no replica needs to notice the expiry.
 */

/** The lease TTL of a delay key: the grant's TTL plus the delay, rounded up to whole seconds. */
export function delayLeaseTtl(ttlS: number, lockDelayMs: number): number {
  return ttlS + Math.ceil(lockDelayMs / 1000);
}

/** Reads the delay keys of a slot inside a transaction. */
export function delayKeysOp(space: ContenderSpace, name: string): TxnOp {
  return { range: { prefix: space.delays(name) } };
}

/**
 * Places still blocked by holders that expired without releasing: delay keys whose holder (same
 * token) is no longer among the first N contenders. A holder's key stays among the first N until
 * it is deleted, so such a delay key belongs to a gone holder.
 */
export function blockedPlaces(delayKeys: readonly KeyValue[], head: readonly KeyValue[]): number {
  const live = new Set(head.map(kv => kv.createRevision));
  let blocked = 0;
  for (const kv of delayKeys) {
    const token = kv.key.slice(kv.key.lastIndexOf('/') + 1);
    if (!live.has(token)) blocked++;
  }
  return blocked;
}

/**
 * Places ahead of `token` still closed by lock-delay: delay keys with a lower token whose holder
 * is no longer among `contenders` (the slot's contender keys up to `token`, keys only). A
 * contender behind them is not granted yet, whatever its place in the queue.
 */
export function blockedAhead(
  token: FencingToken,
  delayKeys: readonly KeyValue[],
  contenders: readonly KeyValue[],
): number {
  const live = new Set(contenders.map(kv => kv.createRevision));
  let blocked = 0;
  for (const kv of delayKeys) {
    const t = kv.key.slice(kv.key.lastIndexOf('/') + 1);
    if (/^\d+$/.test(t) && BigInt(t) < BigInt(token) && !live.has(t)) blocked++;
  }
  return blocked;
}

/** The reads {@link blockedAhead} needs, inside a transaction: delay keys, contenders up to `token`. */
export function blockedAheadOps(space: ContenderSpace, name: string, token: FencingToken): TxnOp[] {
  return [
    delayKeysOp(space, name),
    { range: { prefix: space.contenders(name), maxCreateRevision: token, keysOnly: true } },
  ];
}

/**
 * Writes the delay key of a new holder, on its own lease, only while the holder's key still
 * exists at `token`. Returns the delay lease id; fails with `grant_gone` if the holder vanished.
 */
export async function writeDelayKey(
  store: EtcdStore,
  space: ContenderSpace,
  g: { name: string; token: FencingToken; holderKey: string; ttlS: number; lockDelayMs: number },
  signal: AbortSignal | undefined,
): Promise<string> {
  const lease = await store.leaseGrant(delayLeaseTtl(g.ttlS, g.lockDelayMs), { signal });
  const res = await store
    .txn(
      {
        compare: [{ key: g.holderKey, target: 'create', op: '==', value: g.token }],
        success: [
          {
            put: {
              key: space.delay(g.name, g.token),
              value: JSON.stringify({ token: g.token, lockDelayMs: g.lockDelayMs }),
              lease,
            },
          },
        ],
      },
      { signal },
    )
    .catch(async (err: unknown) => {
      await store.leaseRevoke(lease).catch(() => undefined);
      throw err;
    });
  if (!res.succeeded) {
    await store.leaseRevoke(lease).catch(() => undefined);
    throw new DomainError('grant_gone', `grant ${g.token} expired before it could be confirmed`);
  }
  return lease;
}

/** For a slot with lock-delay, writes the new holder's delay key before the grant is answered. */
export async function confirmDelayKey(
  store: EtcdStore,
  space: ContenderSpace,
  req: { slot: string; ttlS: number; lockDelayMs?: number | undefined },
  token: FencingToken,
  holderKey: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const lockDelayMs = req.lockDelayMs ?? 0;
  if (lockDelayMs <= 0) return;
  await writeDelayKey(
    store,
    space,
    { name: req.slot, token, holderKey, ttlS: req.ttlS, lockDelayMs },
    signal,
  );
}
