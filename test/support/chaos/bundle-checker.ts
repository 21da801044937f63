/**
 * Bundles (several slots taken together, src/domain/bundles/) in one chaos run. A bundle's member
 * keys (`<slot>#h/b.<id>`) must appear together and disappear together: created at ONE revision
 * (that is what orders bundles the same way in every slot and excludes deadlock) and deleted at one
 * revision (release and expiry take all of them). A granted bundle (acquire records sharing
 * `bundle`) must have held every one of its slots at one same revision before it was answered.
 * That each slot never has more than N holders, bundle members included, is checked by the holder
 * bound, which counts every member's acquire record as a holder of its slot.
 */
import { bundleIdOfKey } from '../../../src/domain/bundles/bundle.js';
import type { EventRecord, OpRecord, RunLayout } from './records.js';
import { parseContender, spacesOf, tokenKey, type RevisionBounds, type Replay } from './replay.js';

export const bundleCheckName = 'bundle keys appear and disappear together';
export const bundleGrantCheckName = 'a bundle is granted only while it holds all its slots';

interface Members {
  created: Map<string, bigint>;
  deleted: Map<string, bigint>;
}

/** Member keys by bundle id, with their create and delete revisions from etcd's history. */
function membersOf(events: readonly EventRecord[], layout: RunLayout): Map<string, Members> {
  const spaces = spacesOf(layout.prefix);
  const bundles = new Map<string, Members>();
  for (const e of events) {
    if (parseContender(spaces, e.key)?.space !== 'slot') continue;
    const id = bundleIdOfKey(e.key);
    if (id === undefined) continue;
    const m = bundles.get(id) ?? { created: new Map(), deleted: new Map() };
    bundles.set(id, m);
    if (e.type === 'put' && e.version === '1') m.created.set(e.key, BigInt(e.revision));
    if (e.type === 'delete') m.deleted.set(e.key, BigInt(e.revision));
  }
  return bundles;
}

/** Every bundle's member keys were created at one revision and deleted at one revision. */
export function checkBundleKeys(
  events: readonly EventRecord[],
  layout: RunLayout,
): { name: string; checked: number; violations: string[] } {
  const violations: string[] = [];
  const bundles = membersOf(events, layout);
  for (const [id, m] of bundles) {
    const created = new Set(m.created.values());
    if (created.size > 1) {
      violations.push(
        `bundle ${id.slice(0, 12)}: member keys created at ${created.size} revisions (${[...created].join(', ')})`,
      );
    }
    const deleted = new Set(m.deleted.values());
    const someLive = [...m.created.keys()].some(k => !m.deleted.has(k));
    if (deleted.size > 1 || (deleted.size === 1 && someLive)) {
      violations.push(
        `bundle ${id.slice(0, 12)}: member keys deleted apart (revisions ${[...deleted].join(', ')}${someLive ? ', some never' : ''})`,
      );
    }
  }
  return { name: bundleCheckName, checked: bundles.size, violations };
}

/**
 * Every granted bundle had all its member keys among the first N of their slots at one revision
 * (the latest of the revisions at which each reached its slot's head) before the grant was
 * answered, and none of them was deleted before that revision.
 */
export function checkBundleGrants(
  ops: readonly OpRecord[],
  history: Replay,
  bounds: RevisionBounds,
): { name: string; checked: number; violations: string[] } {
  const grants = new Map<string, OpRecord[]>();
  for (const op of ops) {
    if (op.kind !== 'acquire' || op.outcome !== 'ok' || op.bundle === undefined) continue;
    grants.set(op.bundle, [...(grants.get(op.bundle) ?? []), op]);
  }
  const violations: string[] = [];
  for (const [id, members] of grants) {
    const lives = members.map(op => history.byToken.get(tokenKey('slot', op.name, op.token ?? '')));
    const heads = lives.map(l => l?.headFrom);
    const first = members[0];
    const answered = first === undefined ? undefined : bounds.above(first.complete);
    const all = heads.every(h => h !== undefined)
      ? heads.reduce<bigint>((a, b) => (b > a ? b : a), 0n)
      : undefined;
    const goneEarly = lives.some(
      l => l?.deletedAt !== undefined && all !== undefined && l.deletedAt <= all,
    );
    if (all === undefined || goneEarly || (answered !== undefined && all >= answered)) {
      violations.push(
        `bundle ${id.slice(0, 12)} (${members.map(m => `${m.name}@${m.token ?? '?'}`).join(', ')}): ` +
          `granted, but its keys held all its slots ${all === undefined || goneEarly ? 'never at once' : `only from revision ${all}`}` +
          (answered === undefined ? '' : ` (answered before revision ${answered})`),
      );
    }
  }
  return { name: bundleGrantCheckName, checked: grants.size, violations };
}
