import { isLeaseGone } from '../../etcd/client.js';
import { DomainError } from '../errors.js';
import { fingerprint, idOfSecret, newSecret, secretFromIdempotencyKey } from '../secrets.js';
import { writeDelayKey } from '../slots/lock-delay.js';
import { expiresIn, sessionTtl } from '../slots/semaphore-context.js';
import {
  bundleKeys,
  bundleSecretPrefix,
  encodeMember,
  type BundleGrant,
  type BundleIndex,
  type BundleKeys,
  type BundleRequest,
} from './bundle.js';
import type { BundleContext } from './bundle-context.js';
import { standings } from './bundle-heads.js';
import { runBundleTxn } from './bundle-txn.js';
import { replayBundle } from './replay-bundle.js';
import { putSlotBySlot, unsafeBundleMode } from './unsafe-slot-by-slot.js';
import { waitForBundle } from './wait-bundle.js';
import { withdrawBundle } from './bundle-withdraw.js';

/** Scope of the secret an Idempotency-Key derives for bundles (slot names contain no space). */
const bundleScope = ' bundle';

/**
 * One bundle acquire: a lease (unless under a session), then ONE transaction that puts a member
 * key in every slot and reads every slot's head. Holds at once (every slot has room), fails busy
 * (try; nothing is left behind), replays an Idempotency-Key's earlier grant, or waits for all.
 */
export async function acquireBundle(
  c: BundleContext,
  req: BundleRequest,
  signal: AbortSignal | undefined,
): Promise<BundleGrant> {
  const secret =
    bundleSecretPrefix +
    (req.idempotencyKey === undefined
      ? newSecret()
      : secretFromIdempotencyKey(req.idempotencyKey, bundleScope));
  const id = idOfSecret(secret);
  const keys = bundleKeys(c.keys, c.space, id, req.slots);
  const fp =
    req.idempotencyKey === undefined
      ? ''
      : fingerprint({
          holder: req.holder,
          slots: req.slots,
          ttlS: req.ttlS,
          session: req.session?.leaseId ?? null,
        });
  // A per-grant lease granted ahead (its expiry counted from when ITS grant was sent), else one
  // now; not in the negative-control mode, which puts keys slot by slot before the transaction.
  let pooled =
    req.session === undefined && !unsafeBundleMode ? c.leasePool?.take(req.ttlS) : undefined;
  let leaseSentAt = pooled?.sentAt ?? performance.now();
  let leaseId =
    req.session?.leaseId ?? pooled?.id ?? (await c.store.leaseGrant(req.ttlS, { signal }));
  const perGrantLease = req.session === undefined;
  const at = Date.now();
  const index: BundleIndex = {
    holder: req.holder,
    slots: [...req.slots],
    ttlS: req.ttlS,
    fp,
    session: !perGrantLease,
    at,
  };
  const memberValues = req.slots.map(s =>
    encodeMember({
      holder: req.holder,
      capacity: s.capacity,
      ttlS: req.ttlS,
      fp,
      session: !perGrantLease,
      at,
      lockDelayMs: s.lockDelayMs,
      bundle: { id, slots: [...req.slots] },
    }),
  );
  const sessionLeft = perGrantLease ? undefined : sessionTtl(c, leaseId, signal);
  let res;
  let unsafeTokens: string[] | undefined;
  try {
    // UNSAFE TEST MODE (negative control): the member keys are created one slot at a time.
    if (unsafeBundleMode) {
      unsafeTokens = await putSlotBySlot(c, keys, memberValues, leaseId, signal);
    }
    const txn = () =>
      runBundleTxn(
        c.store,
        c.space,
        {
          keys,
          slots: req.slots,
          indexValue: JSON.stringify(index),
          memberValues,
          leaseId,
          session: req.session,
        },
        signal,
      );
    res = await txn().catch(async (err: unknown) => {
      if (pooled === undefined || !isLeaseGone(err)) throw err;
      // The pooled lease expired or was revoked before its puts (nothing applied): grant one, once.
      pooled = undefined;
      leaseSentAt = performance.now();
      leaseId = await c.store.leaseGrant(req.ttlS, { signal });
      return txn();
    });
  } catch (err) {
    withdrawBundle(c, keys, undefined, perGrantLease ? leaseId : undefined);
    throw err;
  }
  const ownLease = perGrantLease ? leaseId : undefined;
  if (!res.succeeded) {
    if (perGrantLease) c.withdraw.lease(leaseId);
    return replayBundle(c.store, req, { id, secret, fp, keys }, res, {
      retryAfterS: c.retryAfterS,
      signal,
    });
  }
  const token = res.revision;
  const places = standings(res.results, res.headsAt, req.slots, keys.members);
  const conflict = places.find(p => p.conflict !== undefined);
  if (conflict?.conflict !== undefined) {
    withdrawBundle(c, keys, token, ownLease);
    const { capacity, lockDelayMs } = conflict.conflict;
    const asked = req.slots.find(s => s.slot === conflict.slot);
    throw new DomainError(
      'capacity_conflict',
      `slot "${conflict.slot}" is in use with capacity ${capacity} and lock-delay ` +
        `${lockDelayMs} ms, not ${asked?.capacity ?? '?'} and ${asked?.lockDelayMs ?? '?'} ms`,
      { extensions: { slot: conflict.slot, capacity, lockDelayMs } },
    );
  }
  const slots = req.slots.map((s, i) => ({ ...s, token: unsafeTokens?.[i] ?? token }));
  const grant = { id, token, secret, holder: req.holder, ttlS: req.ttlS, slots };
  let waited = false;
  let keptAliveAt = leaseSentAt;
  try {
    if (!places.every(p => p.held)) {
      const busy = places.filter(p => !p.held).map(p => p.slot);
      if (req.waitMs <= 0) {
        throw new DomainError(
          'slot_busy',
          `bundle not granted: slot(s) "${busy.join('", "')}" have no free place`,
          { retryAfterS: c.retryAfterS, extensions: { busy } },
        );
      }
      waited = true;
      const w = { req, keys, token, leaseId, perGrantLease, leaseSentAt };
      keptAliveAt = (await waitForBundle(c, { ...w, held: places.map(p => p.held) }, signal))
        .lastKeepAliveSentAt;
    }
    await confirmDelayKeys(c, req, keys, token, signal);
  } catch (err) {
    withdrawBundle(c, keys, token, ownLease);
    throw err;
  }
  const left = perGrantLease ? undefined : waited ? sessionTtl(c, leaseId, signal) : sessionLeft;
  const expiresInMs = await expiresIn(req.ttlS, keptAliveAt, left);
  return { ...grant, replayed: false, session: !perGrantLease, waited, expiresInMs };
}

/** For each slot of the bundle with lock-delay, writes the bundle's delay key there. */
async function confirmDelayKeys(
  c: BundleContext,
  req: BundleRequest,
  keys: BundleKeys,
  token: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await Promise.all(
    req.slots.map((s, i) =>
      s.lockDelayMs <= 0
        ? Promise.resolve(undefined)
        : writeDelayKey(
            c.store,
            c.space,
            {
              name: s.slot,
              token,
              holderKey: keys.members[i] ?? '',
              ttlS: req.ttlS,
              lockDelayMs: s.lockDelayMs,
            },
            signal,
          ),
    ),
  );
}
