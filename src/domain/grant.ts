import type { KeyValue } from '../etcd/store.js';

/** A fencing token: an etcd create revision as a decimal string (int64 exceeds 2^53). */
export type FencingToken = string;

/**
 * A lock (or semaphore slot) granted by etcd. `token` increases strictly in grant order per slot;
 * `secret` is handed only to the holder and is needed to renew or release; `expiresInMs` is the
 * time left measured by this server from before etcd last extended the lease, so it is a lower
 * bound the holder can count down on its own monotonic clock.
 */
export interface Grant {
  slot: string;
  token: FencingToken;
  secret: string;
  holder: string;
  capacity: number;
  ttlS: number;
  expiresInMs: number;
  /** The grant waited in the queue before it was granted. */
  waited: boolean;
  /** A retry with the same Idempotency-Key found this existing grant. */
  replayed: boolean;
  /** The lease belongs to a client session rather than to this grant alone. */
  session: boolean;
  /** The holder's published value (elections: the leader's value). */
  value?: string | undefined;
  /** For a grant handed over from a previous holder: how long the place stood empty, and why. */
  handover?: Handover | undefined;
}

/** The gap between a holder's key disappearing and the next holder being established. */
export interface Handover {
  ms: number;
  reason: 'released' | 'expired';
}

/** What slotlock stores in a contender key's value (never the secret). */
export interface HolderRecord {
  holder: string;
  capacity: number;
  ttlS: number;
  fp: string;
  session: boolean;
  at: number;
  value?: string | undefined;
  /** Lock-delay of the slot in ms (0: none); all contenders of a slot agree on it. */
  lockDelayMs?: number | undefined;
  /** A session grant's quota ledger key (deleted with the grant; a per-grant lease takes it). */
  q?: string | undefined;
}

export function encodeHolder(record: HolderRecord): string {
  return JSON.stringify(record);
}

/** Parses a contender value; tolerates foreign values by returning undefined. */
export function decodeHolder(kv: KeyValue): HolderRecord | undefined {
  try {
    const parsed = JSON.parse(kv.value) as Partial<HolderRecord>;
    if (typeof parsed.holder !== 'string' || typeof parsed.capacity !== 'number') return undefined;
    return {
      holder: parsed.holder,
      capacity: parsed.capacity,
      ttlS: typeof parsed.ttlS === 'number' ? parsed.ttlS : 0,
      fp: typeof parsed.fp === 'string' ? parsed.fp : '',
      session: parsed.session === true,
      at: typeof parsed.at === 'number' ? parsed.at : 0,
      value: typeof parsed.value === 'string' ? parsed.value : undefined,
      lockDelayMs: typeof parsed.lockDelayMs === 'number' ? parsed.lockDelayMs : 0,
      ...(typeof parsed.q === 'string' ? { q: parsed.q } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Compares two decimal revision strings numerically. */
export function compareTokens(a: FencingToken, b: FencingToken): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Milliseconds left on a lease of `ttlS` seconds whose (re)start was requested at `sentAt`
 * (performance.now()): a lower bound, since etcd started the TTL after the request was sent.
 */
export function timeRemaining(ttlS: number, sentAt: number): number {
  return Math.max(0, Math.floor(ttlS * 1000 - (performance.now() - sentAt)));
}
