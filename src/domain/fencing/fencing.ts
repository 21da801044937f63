import type { KeyValue } from '../../etcd/store.js';
import { compareTokens, type FencingToken } from '../grant.js';

/** What a fenced record stores in etcd: the value, the token that wrote it, and when. */
export interface FencedRecordBody {
  token: FencingToken;
  value: string;
  at: number;
  /** The principal that wrote it (its storage is charged to it); absent in older records. */
  owner?: string | undefined;
}

/** A fenced record as read back: its value, the token that wrote it, and its etcd mod revision. */
export interface FencedValue extends FencedRecordBody {
  slot: string;
  record: string;
  revision: string;
}

export function encodeFencedRecord(body: FencedRecordBody): string {
  return JSON.stringify(body);
}

/** Parses a stored record; a foreign or damaged value yields undefined (treated as no token). */
export function decodeFencedRecord(kv: KeyValue): FencedRecordBody | undefined {
  try {
    const parsed = JSON.parse(kv.value) as Partial<FencedRecordBody>;
    if (typeof parsed.token !== 'string' || !/^[1-9][0-9]*$/.test(parsed.token)) return undefined;
    if (typeof parsed.value !== 'string') return undefined;
    return {
      token: parsed.token,
      value: parsed.value,
      at: typeof parsed.at === 'number' ? parsed.at : 0,
      ...(typeof parsed.owner === 'string' ? { owner: parsed.owner } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Everything one linearizable read tells a fenced write about its token. */
export interface WriteView {
  /** etcd's revision when the view was read: no token above it has been handed out yet. */
  revision: string;
  /** The stored record, if any, with its mod revision for the compare-and-set. */
  record: (FencedRecordBody & { modRevision: string }) | undefined;
  /** Create revision of the caller's own contender key (derived from its secret), if it exists. */
  ownCreate: string | undefined;
  /** How many contenders of the slot have create revision == token (0 or 1). */
  liveWithToken: number;
  /** Contenders ahead of `token` (lower create revision); granted while below `capacity`. */
  ahead: number;
  /** The slot's capacity, from its oldest contender; 0 with no contender. */
  capacity: number;
  /**
   * Places ahead of `token` still closed by lock-delay: delay keys of holders with a lower token
   * that are gone (they expired without releasing). A contender behind them is not granted yet.
   */
  blocked: number;
}

/**
 * The verdict on a fenced write, before the compare-and-set:
 * - `future`: the token is above etcd's revision, so no grant can have it (bad input);
 * - `not_holder`: the token is live but the secret is not its holder's, or it is still waiting;
 * - `gone`: the grant with this token no longer exists (released or expired);
 * - `stale`: the record was already written with a higher token;
 * - `ok`: the caller holds the grant and its token is not lower than the record's.
 */
export type WriteVerdict =
  | { kind: 'future' }
  | { kind: 'not_holder'; waiting: boolean }
  | { kind: 'gone' }
  | { kind: 'stale'; recordToken: FencingToken }
  | { kind: 'ok' };

/** Judges a fenced write with `token` against one {@link WriteView}. */
export function judgeWrite(token: FencingToken, view: WriteView): WriteVerdict {
  if (compareTokens(token, view.revision) > 0) return { kind: 'future' };
  if (view.ownCreate !== token) {
    return view.liveWithToken > 0 ? { kind: 'not_holder', waiting: false } : { kind: 'gone' };
  }
  // Keys ahead of ours are only ever deleted, never added, so once granted a key stays a holder
  // for as long as it exists: the compare on its create revision keeps this true until the put.
  if (view.ahead + view.blocked >= view.capacity) return { kind: 'not_holder', waiting: true };
  if (view.record !== undefined && compareTokens(view.record.token, token) > 0) {
    return { kind: 'stale', recordToken: view.record.token };
  }
  return { kind: 'ok' };
}

/** The highest of `tokens` that is above `token`, or undefined when none is. */
export function highestAbove(
  token: FencingToken,
  tokens: readonly (FencingToken | undefined)[],
): FencingToken | undefined {
  let best: FencingToken | undefined;
  for (const t of tokens) {
    if (t === undefined || compareTokens(t, token) <= 0) continue;
    if (best === undefined || compareTokens(t, best) > 0) best = t;
  }
  return best;
}
