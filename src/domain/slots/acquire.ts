import { isLeaseGone } from '../../etcd/client.js';
import { rangeAt } from '../../etcd/store.js';
import { DomainError } from '../errors.js';
import { decodeHolder, encodeHolder, type Grant } from '../grant.js';
import { fingerprint, idOfSecret, newSecret, secretFromIdempotencyKey } from '../secrets.js';
import { runAcquireTxn } from './acquire-txn.js';
import { blockedPlaces, confirmDelayKey } from './lock-delay.js';
import { replayAcquire } from './replay.js';
import {
  expiresIn,
  renewIfShort,
  sessionTtl,
  type AcquireRequest,
  type SemaphoreContext,
} from './semaphore-context.js';
import { waitForPlace } from './wait.js';

/**
 * One acquire: a lease (unless under a session), then ONE transaction that puts the caller's key
 * if absent and reads the first N keys of the slot. Holds at once, fails busy (try), replays an
 * Idempotency-Key's earlier grant, or joins the queue (wait).
 */
export async function acquireOnce(
  c: SemaphoreContext,
  req: AcquireRequest,
  signal: AbortSignal | undefined,
): Promise<Grant> {
  const { store, space } = c;
  const secret =
    req.idempotencyKey === undefined
      ? newSecret()
      : secretFromIdempotencyKey(req.idempotencyKey, req.slot);
  const key = space.contender(req.slot, idOfSecret(secret));
  // Named from the contender key, so the release can delete it in its own transaction.
  const quotaKey = req.quota?.keyFor(key);
  // Only a retry with the same Idempotency-Key can find this key again and compare requests.
  const fp =
    req.idempotencyKey === undefined
      ? ''
      : fingerprint({
          holder: req.holder,
          capacity: req.capacity,
          ttlS: req.ttlS,
          session: req.session?.leaseId ?? null,
          value: req.value ?? null,
          lockDelayMs: req.lockDelayMs ?? 0,
        });
  // A per-grant lease granted ahead (its expiry counted from when ITS grant was sent), else one now.
  let pooled = req.session === undefined ? c.leasePool?.take(req.ttlS) : undefined;
  let leaseSentAt = pooled?.sentAt ?? performance.now();
  // The quota check runs alongside the lease grant: no extra round trip for a per-grant lease.
  const leaseP = req.session?.leaseId ?? pooled?.id ?? store.leaseGrant(req.ttlS, { signal });
  let leaseId: string;
  try {
    [leaseId] = await Promise.all([leaseP, admitUnlessHeld(c, req, key, signal)]);
  } catch (err) {
    if (pooled !== undefined) c.withdraw.lease(pooled.id);
    else if (typeof leaseP !== 'string') {
      leaseP.then(
        id => {
          c.withdraw.lease(id);
        },
        () => undefined,
      );
    }
    throw err;
  }
  const perGrantLease = req.session === undefined;
  const value = encodeHolder({
    holder: req.holder,
    capacity: req.capacity,
    ttlS: req.ttlS,
    fp,
    session: !perGrantLease,
    at: Date.now(),
    value: req.value,
    lockDelayMs: req.lockDelayMs ?? 0,
    // Under a session the ledger key outlives a release: the release deletes it (in its own
    // transaction when its caller's ledger prefix names it, else afterwards by this name).
    ...(perGrantLease || quotaKey === undefined ? {} : { q: quotaKey }),
  });
  const txnInput = {
    name: req.slot,
    key,
    value,
    leaseId,
    capacity: req.capacity,
    session: req.session,
    quotaKey,
  };
  /** The pooled lease expired or was revoked before its put (nothing applied): grant one, once. */
  const leaseGone = async (err: unknown): Promise<boolean> => {
    if (pooled === undefined || !isLeaseGone(err)) return false;
    pooled = undefined;
    leaseSentAt = performance.now();
    leaseId = await store.leaseGrant(req.ttlS, { signal });
    txnInput.leaseId = leaseId;
    return true;
  };
  let res;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await runAcquireTxn(store, space, txnInput, signal);
    } catch (err) {
      if (await leaseGone(err)) continue;
      // The put may have been applied with only its answer lost: remove exactly what it would
      // have created (its own lease, or its key if never rewritten by a replay).
      if (perGrantLease) c.withdraw.lease(leaseId);
      else c.withdraw.uncertainKey(key, leaseId, quotaKey);
      throw err;
    }
    if (res.succeeded) break;
    const retry = { key, secret, fp, leaseId, perGrantLease, leaseSentAt, results: res.results };
    let replayed;
    try {
      replayed = await replayAcquire(c, req, retry, signal);
    } catch (err) {
      if (await leaseGone(err)) continue;
      if (perGrantLease) c.withdraw.lease(leaseId);
      throw err;
    }
    if (replayed !== 'raced') return replayed;
    if (attempt >= 3) {
      if (perGrantLease) c.withdraw.lease(leaseId);
      throw new DomainError('etcd_unavailable', 'the grant changed during every replay; retry', {
        retryAfterS: c.retryAfterS,
      });
    }
  }
  const ownLease = perGrantLease ? leaseId : undefined;
  const sessionLeft = perGrantLease ? undefined : sessionTtl(c, leaseId, signal);

  const token = res.revision;
  if (store.tokenMayRepeat(token)) {
    // etcd went back in time (restored from a snapshot): this token may repeat an earlier grant's.
    c.withdraw.contender(key, token, ownLease, quotaKey);
    throw new DomainError(
      'etcd_restored',
      `etcd's revision went back below ${store.revisionWentBackBelow ?? '?'} (a restore from a ` +
        'snapshot?): fencing tokens could repeat, so nothing is granted until an operator ' +
        'advances the revision past it (docs/reliability.md, "Backup and restore")',
      { retryAfterS: c.retryAfterS },
    );
  }
  const first = rangeAt(res.results, 1).kvs;
  const oldest = first[0] === undefined ? undefined : decodeHolder(first[0]);
  const lockDelayMs = req.lockDelayMs ?? 0;
  if (
    first[0]?.key !== key &&
    oldest !== undefined &&
    (oldest.capacity !== req.capacity || (oldest.lockDelayMs ?? 0) !== lockDelayMs)
  ) {
    c.withdraw.contender(key, token, ownLease, quotaKey);
    throw new DomainError(
      'capacity_conflict',
      `${space.noun} "${req.slot}" is in use with capacity ${oldest.capacity} and lock-delay ` +
        `${oldest.lockDelayMs ?? 0} ms, not ${req.capacity} and ${lockDelayMs} ms`,
      { extensions: { capacity: oldest.capacity, lockDelayMs: oldest.lockDelayMs ?? 0 } },
    );
  }
  const base = {
    slot: req.slot,
    token,
    secret,
    holder: req.holder,
    capacity: req.capacity,
    ttlS: req.ttlS,
    replayed: false,
    session: !perGrantLease,
    value: req.value,
  };
  const place = first.findIndex(kv => kv.key === key);
  const blocked = blockedPlaces(rangeAt(res.results, 2).kvs, first);
  if (place >= 0 && place + blocked < req.capacity) {
    try {
      await confirmDelayKey(c.store, c.space, req, token, key, signal);
    } catch (err) {
      c.withdraw.contender(key, token, ownLease, quotaKey);
      throw err;
    }
    c.ends.remember(key);
    const expiresInMs = await renewIfShort(
      c,
      ownLease,
      req.ttlS,
      await expiresIn(req.ttlS, leaseSentAt, sessionLeft),
      signal,
    );
    return { ...base, expiresInMs, waited: false };
  }
  if (req.waitMs <= 0) {
    c.withdraw.contender(key, token, ownLease, quotaKey);
    const noun = space.noun;
    throw new DomainError(
      noun === 'election' ? 'not_leader' : 'slot_busy',
      blocked > 0
        ? `${noun} "${req.slot}" is closed by lock-delay after a holder expired without releasing`
        : `${noun} "${req.slot}" has ${req.capacity} holder(s) already`,
      { retryAfterS: c.retryAfterS, extensions: { capacity: req.capacity } },
    );
  }
  return waitForPlace(c, { req, base, key, leaseId, perGrantLease, leaseSentAt }, signal);
}

/**
 * The quota check of an acquire. A retry with an Idempotency-Key whose grant or queued request
 * still exists is not a new one (it is counted already and only replays): refused by the quota,
 * it goes on when its key is there, so a client that lost the first answer learns its token.
 */
async function admitUnlessHeld(
  c: SemaphoreContext,
  req: AcquireRequest,
  key: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await req.quota?.admit(signal);
  } catch (err) {
    if (
      req.idempotencyKey === undefined ||
      !(err instanceof DomainError) ||
      err.code !== 'quota_exceeded'
    ) {
      throw err;
    }
    const existing = await c.store.range({ key, countOnly: true }, { signal });
    if (existing.count === 0) throw err;
  }
}
