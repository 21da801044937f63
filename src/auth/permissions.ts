import { z } from 'zod';
import { verbs, type Permission, type Principal, type Verb } from './principal.js';

const prefixes = z.array(z.string().max(256, 'a name prefix is at most 256 characters')).max(256);

/** One permission as written in the API key file or a JWT claim (see docs/security.md). */
export const permissionSchema = z.strictObject({
  verbs: z.array(z.enum(verbs)).min(1, 'name at least one verb'),
  slots: prefixes.optional(),
  elections: prefixes.optional(),
});

/** A list of permissions (API key entries, client entries, the JWT permissions claim). */
export const permissionsSchema = z.array(permissionSchema).max(256);

/**
 * What a request acts on: one slot or election by name, every slot under a listing prefix, or
 * any slot at all (sessions, which are not tied to a name until a grant uses them).
 */
export type Target =
  | { readonly slot: string }
  | { readonly election: string }
  | { readonly slotPrefix: string }
  | { readonly anySlot: true };

/**
 * True when one of the principal's permissions names `verb` and covers the target: a name is
 * covered by a prefix it starts with (`""` covers everything); a listing prefix only by a
 * permitted prefix it itself starts with; `anySlot` by any slot permission with that verb.
 */
export function allows(p: Principal, verb: Verb, target: Target): boolean {
  return p.permissions.some(perm => perm.verbs.includes(verb) && covers(perm, target));
}

function covers(perm: Permission, t: Target): boolean {
  if ('slot' in t) return (perm.slots ?? []).some(prefix => t.slot.startsWith(prefix));
  if ('election' in t) return (perm.elections ?? []).some(prefix => t.election.startsWith(prefix));
  if ('slotPrefix' in t) return (perm.slots ?? []).some(prefix => t.slotPrefix.startsWith(prefix));
  return (perm.slots ?? []).length > 0;
}

/** A short human description of a target, for 403 details and audit lines. */
export function describeTarget(t: Target): string {
  if ('slot' in t) return `slot "${t.slot}"`;
  if ('election' in t) return `election "${t.election}"`;
  if ('slotPrefix' in t) return `slots under "${t.slotPrefix}"`;
  return 'any slot';
}
