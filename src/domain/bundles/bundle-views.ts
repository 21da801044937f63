import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore, KeyValue } from '../../etcd/store.js';
import { bundleIdOfKey, decodeMember, memberKey, type BundleSlot } from './bundle.js';
import { headOps, standings } from './bundle-heads.js';

/** What a slot view says of a bundle member among the slot's first N. */
export interface MemberStanding {
  id: string;
  slots: string[];
  /** The bundle holds its place in every one of its slots (it is a holder, not a waiter). */
  holds: boolean;
}

/**
 * For the bundle members among `head` (a slot's first N read at `revision`): does each bundle
 * hold in ALL its slots at that same revision? A member that reached the head of this slot but
 * not of another is a waiter keeping its place, never shown as a holder: no partial grant is ever
 * visible. One read of the other slots' heads, pinned at `revision`, and only when there are
 * bundle members in the head.
 */
export async function memberStandings(
  store: EtcdStore,
  space: ContenderSpace,
  head: readonly KeyValue[],
  revision: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, MemberStanding>> {
  const members = head.flatMap(kv => {
    const id = bundleIdOfKey(kv.key);
    const record = id === undefined ? undefined : decodeMember(kv);
    return id === undefined || record === undefined ? [] : [{ kv, id, slots: record.bundle.slots }];
  });
  const out = new Map<string, MemberStanding>();
  if (members.length === 0) return out;
  const bySlot = new Map<string, BundleSlot>();
  for (const m of members) {
    for (const s of m.slots) {
      const known = bySlot.get(s.slot);
      if (known === undefined || known.capacity < s.capacity) bySlot.set(s.slot, s);
    }
  }
  const slots = [...bySlot.values()];
  const ops = headOps(space, slots).map(op =>
    'range' in op ? { range: { ...op.range, revision } } : op,
  );
  const res = await store.txn({ compare: [], success: ops }, { signal });
  for (const m of members) {
    const holds = m.slots.every(s => {
      const at = slots.findIndex(x => x.slot === s.slot);
      const key = memberKey(space, s.slot, m.id);
      const [st] = standings(res.results.slice(2 * at, 2 * at + 2), 0, [s], [key]);
      return st?.held === true;
    });
    out.set(m.kv.key, { id: m.id, slots: m.slots.map(s => s.slot), holds });
  }
  return out;
}
