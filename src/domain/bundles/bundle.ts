import type { ContenderSpace, KeyLayout } from '../../etcd/keys.js';
import type { KeyValue } from '../../etcd/store.js';
import { decodeHolder, encodeHolder, type FencingToken, type HolderRecord } from '../grant.js';
import { idOfSecret } from '../secrets.js';
import type { SessionRef } from '../slots/semaphore-context.js';

/** One slot of a bundle, with the capacity and lock-delay the slot must agree on. */
export interface BundleSlot {
  slot: string;
  capacity: number;
  /** Per-slot lock-delay in ms (0: none); per-grant leases only. */
  lockDelayMs: number;
}

/** What a caller asks for: every slot at once, or none. `waitMs` 0 means try once. */
export interface BundleRequest {
  holder: string;
  slots: readonly BundleSlot[];
  ttlS: number;
  waitMs: number;
  idempotencyKey?: string | undefined;
  session?: SessionRef | undefined;
}

/**
 * Several slots granted together. Every member key was created by ONE transaction, so they share
 * one create revision: `token` is the fencing token of the bundle in each of its slots (tokens
 * compare only within one slot). One secret and one lease cover the whole bundle.
 */
export interface BundleGrant {
  /** The bundle's public id (derived from its secret; shown in slot views). */
  id: string;
  token: FencingToken;
  secret: string;
  holder: string;
  /** The slots with the bundle's fencing token in each (the same revision in every slot). */
  slots: (BundleSlot & { token: FencingToken })[];
  ttlS: number;
  expiresInMs: number;
  waited: boolean;
  replayed: boolean;
  session: boolean;
}

/** What a member key stores: a normal holder record of its slot plus the bundle it belongs to. */
export interface MemberRecord extends HolderRecord {
  bundle: { id: string; slots: BundleSlot[] };
}

/** What the bundle's index key stores (never the secret). */
export interface BundleIndex {
  holder: string;
  slots: BundleSlot[];
  ttlS: number;
  fp: string;
  session: boolean;
  at: number;
}

/**
 * Member key ids start with "b." (base64url ids never contain "."): the single-slot verbs, which
 * name a key by the plain id of a secret, can then never renew or release one member alone.
 */
export function memberId(bundleId: string): string {
  return `b.${bundleId}`;
}

/**
 * Bundle secrets start with "b." (a base64url grant secret never contains "."), so the verbs that
 * take any holder's secret for one slot (the fenced store) can tell which key it names.
 */
export const bundleSecretPrefix = 'b.';

/** The contender key in `slot` that `secret` proves: a grant's own key, or a bundle's member. */
export function holderKey(space: ContenderSpace, slot: string, secret: string): string {
  const id = idOfSecret(secret);
  return secret.startsWith(bundleSecretPrefix)
    ? memberKey(space, slot, id)
    : space.contender(slot, id);
}

/** The contender key of bundle `bundleId` in `slot`. */
export function memberKey(space: ContenderSpace, slot: string, bundleId: string): string {
  return space.contender(slot, memberId(bundleId));
}

/** The bundle id a contender key belongs to, if it is a bundle member. */
export function bundleIdOfKey(key: string): string | undefined {
  const at = key.lastIndexOf('#h/b.');
  return at < 0 ? undefined : key.slice(at + 5);
}

/** Encodes the value of a member key. */
export function encodeMember(record: MemberRecord): string {
  return encodeHolder(record);
}

/** Decodes a member key's bundle part (undefined for a plain contender or a foreign value). */
export function decodeMember(kv: KeyValue): MemberRecord | undefined {
  const holder = decodeHolder(kv);
  if (holder === undefined) return undefined;
  try {
    const parsed = JSON.parse(kv.value) as { bundle?: { id?: unknown; slots?: unknown } };
    const b = parsed.bundle;
    if (typeof b?.id !== 'string' || !Array.isArray(b.slots)) return undefined;
    const slots = (b.slots as Partial<BundleSlot>[]).flatMap(s =>
      typeof s.slot === 'string' && typeof s.capacity === 'number'
        ? [{ slot: s.slot, capacity: s.capacity, lockDelayMs: s.lockDelayMs ?? 0 }]
        : [],
    );
    return { ...holder, bundle: { id: b.id, slots } };
  } catch {
    return undefined;
  }
}

/** Parses a bundle index value; undefined for a foreign one. */
export function decodeIndex(kv: KeyValue): BundleIndex | undefined {
  try {
    const p = JSON.parse(kv.value) as Partial<BundleIndex>;
    if (typeof p.holder !== 'string' || !Array.isArray(p.slots)) return undefined;
    return {
      holder: p.holder,
      slots: p.slots,
      ttlS: typeof p.ttlS === 'number' ? p.ttlS : 0,
      fp: typeof p.fp === 'string' ? p.fp : '',
      session: p.session === true,
      at: typeof p.at === 'number' ? p.at : 0,
    };
  } catch {
    return undefined;
  }
}

/** Where a bundle's keys live. */
export interface BundleKeys {
  index: string;
  members: string[];
}

/** The index key and the member keys (in slot order) of bundle `id`. */
export function bundleKeys(
  keys: KeyLayout,
  space: ContenderSpace,
  id: string,
  slots: readonly { slot: string }[],
): BundleKeys {
  return { index: keys.bundle(id), members: slots.map(s => memberKey(space, s.slot, id)) };
}
