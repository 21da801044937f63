import type { Response } from 'express';
import { DomainError } from '../domain/errors.js';
import { allows, describeTarget, type Target } from './permissions.js';
import { principalOf, type Verb } from './principal.js';

/**
 * Throws unless the request's principal may do `verb` on `target`: 401 `unauthenticated` when the
 * request carried no credential (and the action is not public), 403 `forbidden` when it did.
 * `isPublic` lets a route open itself to callers without credentials (public reads, token checks).
 */
export function authorize(res: Response, verb: Verb, target: Target, isPublic = false): void {
  if (isPublic) return;
  const p = principalOf(res);
  if (allows(p, verb, target)) return;
  if (!p.authenticated) {
    throw new DomainError(
      'unauthenticated',
      'this request needs credentials: send "Authorization: Bearer <API key or JWT>" or a client certificate',
    );
  }
  throw new DomainError(
    'forbidden',
    `principal "${p.id}" may not ${verb} on ${describeTarget(target)}`,
    { extensions: { verb, principal: p.id } },
  );
}
