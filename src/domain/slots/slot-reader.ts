import type { EtcdStore, KeyValue } from '../../etcd/store.js';
import { rangeAt } from '../../etcd/store.js';
import type { ContenderSpace } from '../../etcd/keys.js';
import type { Metrics } from '../../metrics.js';
import { DomainError } from '../errors.js';
import { compareTokens, decodeHolder, timeRemaining, type FencingToken } from '../grant.js';
import { idOfSecret, secretFromIdempotencyKey } from '../secrets.js';
import { blockedAhead, blockedAheadOps, blockedPlaces, delayKeysOp } from './lock-delay.js';
import { memberStandings, type MemberStanding } from '../bundles/bundle-views.js';

/** A holder as shown to anyone: never its secret. */
export interface HolderView {
  holder: string;
  token: FencingToken;
  expiresInMs: number | null;
  session: boolean;
  /** Set for a member of a bundle (several slots taken together): its id and all its slots. */
  bundle?: { id: string; slots: string[] } | undefined;
}

export interface SlotView {
  slot: string;
  capacity: number | null;
  holders: HolderView[];
  /**
   * Places among the first N kept by bundles that still wait for another of their slots: not
   * holders (a bundle holds all its slots or none), counted in `waiting`.
   */
  reservedByBundles: HolderView[];
  waiting: number;
  /** The slot's lock-delay (0: none). */
  lockDelayMs: number;
  /** Places held closed by holders that expired without releasing, until their delay passes. */
  blockedByLockDelay: number;
  lastReleasedToken: FencingToken | null;
  revision: string;
}

export interface TokenCheck {
  slot: string;
  token: FencingToken;
  current: boolean;
  highestToken: FencingToken | null;
  revision: string;
}

/** Read-side queries of slots: inspect, list, token check and queue position. All linearizable. */
export class SlotReader {
  constructor(
    private readonly store: EtcdStore,
    private readonly space: ContenderSpace,
    private readonly metrics: Metrics,
    private readonly maxHoldersShown = 100,
  ) {}

  /** Capacity, holders with time remaining, and the number waiting. */
  async inspect(slot: string, opts: { signal?: AbortSignal } = {}): Promise<SlotView> {
    const prefix = this.space.contenders(slot);
    const first = await this.store.txn(
      {
        compare: [],
        success: [
          { range: { prefix, sort: { target: 'create', order: 'asc' }, limit: 1 } },
          { range: { prefix, countOnly: true } },
          { range: { key: this.space.releaseMarker(slot) } },
          delayKeysOp(this.space, slot),
        ],
      },
      opts,
    );
    const oldest = rangeAt(first.results, 0).kvs[0];
    const total = rangeAt(first.results, 1).count;
    const marker = rangeAt(first.results, 2).kvs[0];
    const delays = rangeAt(first.results, 3).kvs;
    const record = oldest === undefined ? undefined : decodeHolder(oldest);
    const capacity = oldest === undefined ? null : (record?.capacity ?? 1);
    let holders: KeyValue[] = [];
    let reserved: KeyValue[] = [];
    let members = new Map<string, MemberStanding>();
    let blocked = delays.length;
    if (capacity !== null) {
      const head = await this.store.range(
        { prefix, sort: { target: 'create', order: 'asc' }, limit: capacity },
        opts,
      );
      blocked = blockedPlaces(delays, head.kvs);
      const places = head.kvs.slice(0, Math.max(0, capacity - blocked));
      members = await memberStandings(this.store, this.space, places, head.revision, opts.signal);
      holders = places.filter(kv => members.get(kv.key)?.holds !== false);
      reserved = places.filter(kv => members.get(kv.key)?.holds === false);
    }
    const view = async (kv: KeyValue): Promise<HolderView> => {
      const m = members.get(kv.key);
      const v = await this.holderView(kv, opts.signal);
      return m === undefined ? v : { ...v, bundle: { id: m.id, slots: m.slots } };
    };
    const views = await Promise.all(holders.slice(0, this.maxHoldersShown).map(view));
    return {
      slot,
      capacity,
      holders: views,
      reservedByBundles: await Promise.all(reserved.slice(0, this.maxHoldersShown).map(view)),
      waiting: Math.max(0, total - holders.length),
      lockDelayMs: record?.lockDelayMs ?? delayOf(delays[0]),
      blockedByLockDelay: blocked,
      lastReleasedToken: marker === undefined ? null : markerToken(marker),
      revision: first.revision,
    };
  }

  /** Slots under a name prefix that have contenders, with their holder and waiter counts. */
  async list(
    namePrefix: string,
    limit: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ slots: { slot: string; contenders: number }[]; truncated: boolean }> {
    const res = await this.store.range(
      { prefix: `${this.space.root}${namePrefix}`, keysOnly: true },
      opts,
    );
    const counts = new Map<string, number>();
    for (const kv of res.kvs) {
      const parsed = this.space.parse(kv.key);
      if (parsed === undefined || !parsed.rest.startsWith('h/')) continue;
      counts.set(parsed.name, (counts.get(parsed.name) ?? 0) + 1);
    }
    const slots = [...counts].map(([slot, contenders]) => ({ slot, contenders }));
    return { slots: slots.slice(0, limit), truncated: slots.length > limit };
  }

  /**
   * Chubby's CheckSequencer: is `token` one of the slot's current N grants? Also answers the
   * highest token of a current holder or, with none, of the last clean release.
   */
  async check(
    slot: string,
    token: FencingToken,
    opts: { signal?: AbortSignal } = {},
  ): Promise<TokenCheck> {
    const prefix = this.space.contenders(slot);
    const before = (BigInt(token) - 1n).toString();
    const res = await this.store.txn(
      {
        compare: [],
        success: [
          { range: { prefix, sort: { target: 'create', order: 'asc' }, limit: 1 } },
          {
            range: { prefix, minCreateRevision: token, maxCreateRevision: token, limit: 1 },
          },
          { range: { prefix, maxCreateRevision: before, countOnly: true } },
          { range: { key: this.space.releaseMarker(slot) } },
          ...blockedAheadOps(this.space, slot, token),
        ],
      },
      opts,
    );
    const oldest = rangeAt(res.results, 0).kvs[0];
    const capacity = oldest === undefined ? 0 : (decodeHolder(oldest)?.capacity ?? 1);
    const exists = rangeAt(res.results, 1).count > 0;
    const ahead = BigInt(token) > 0n ? rangeAt(res.results, 2).count : 0;
    const marker = rangeAt(res.results, 3).kvs[0];
    let highest: FencingToken | null = marker === undefined ? null : markerToken(marker);
    if (capacity > 0) {
      const head = await this.store.range(
        { prefix, sort: { target: 'create', order: 'asc' }, limit: capacity, keysOnly: true },
        opts,
      );
      const top = head.kvs[head.kvs.length - 1];
      if (
        top !== undefined &&
        (highest === null || compareTokens(top.createRevision, highest) > 0)
      ) {
        highest = top.createRevision;
      }
    }
    // A contender behind a place closed by lock-delay is not granted yet: not current.
    const blocked = blockedAhead(token, rangeAt(res.results, 4).kvs, rangeAt(res.results, 5).kvs);
    const current = exists && ahead + blocked < capacity;
    // A read is not a stale write: only a token below one already handed out is stale. A token
    // never issued (above every holder and the last release) or still waiting is not counted.
    if (!current && highest !== null && compareTokens(token, highest) < 0) {
      this.metrics.staleTokens.inc({ source: 'check' });
    }
    // A bundle member is current only while its bundle holds every one of its slots.
    const own = rangeAt(res.results, 1).kvs[0];
    const partial =
      current &&
      own !== undefined &&
      (await memberStandings(this.store, this.space, [own], res.revision, opts.signal)).get(own.key)
        ?.holds === false;
    return {
      slot,
      token,
      current: current && !partial,
      highestToken: highest,
      revision: res.revision,
    };
  }

  /** Queue position (0 = first) of the acquire made with `idempotencyKey`. */
  async position(
    slot: string,
    idempotencyKey: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ position: number; holding: boolean; token: FencingToken; capacity: number }> {
    const key = this.space.contender(
      slot,
      idOfSecret(secretFromIdempotencyKey(idempotencyKey, slot)),
    );
    const own = await this.store.range({ key }, opts);
    const kv = own.kvs[0];
    if (kv === undefined) {
      throw new DomainError(
        'not_found',
        `no acquire with this Idempotency-Key is queued on slot "${slot}"`,
      );
    }
    const capacity = decodeHolder(kv)?.capacity ?? 1;
    // One read for both, at one revision: the contenders up to this one and the delay keys.
    const view = await this.store.txn(
      { compare: [], success: blockedAheadOps(this.space, slot, kv.createRevision) },
      opts,
    );
    const contenders = rangeAt(view.results, 1).kvs;
    const ahead = contenders.filter(c => c.createRevision !== kv.createRevision).length;
    const blocked = blockedAhead(kv.createRevision, rangeAt(view.results, 0).kvs, contenders);
    return {
      position: ahead,
      holding: ahead + blocked < capacity,
      token: kv.createRevision,
      capacity,
    };
  }

  private async holderView(kv: KeyValue, signal: AbortSignal | undefined): Promise<HolderView> {
    const record = decodeHolder(kv);
    const sentAt = performance.now();
    let expiresInMs: number | null = null;
    if (kv.lease !== '0') {
      const ttl = await this.store.leaseTimeToLive(kv.lease, { signal });
      expiresInMs = timeRemaining(ttl.ttlS, sentAt);
    }
    return {
      holder: record?.holder ?? '',
      token: kv.createRevision,
      expiresInMs,
      session: record?.session ?? false,
    };
  }
}

function markerToken(kv: KeyValue): FencingToken | null {
  try {
    const parsed = JSON.parse(kv.value) as { token?: unknown };
    return typeof parsed.token === 'string' ? parsed.token : null;
  } catch {
    return null;
  }
}

/** The lock-delay recorded in a delay key (used when no contender is left to ask). */
function delayOf(kv: KeyValue | undefined): number {
  if (kv === undefined) return 0;
  try {
    const parsed = JSON.parse(kv.value) as { lockDelayMs?: unknown };
    return typeof parsed.lockDelayMs === 'number' ? parsed.lockDelayMs : 0;
  } catch {
    return 0;
  }
}
