import { DomainError } from './errors.js';
import type { FencingToken } from './grant.js';

/**
 * The error for a secret that does not match the key created at `token`: if some contender of the
 * slot still has that create revision the caller is not its holder (403); otherwise it is gone (410).
 */
export function grantGoneOrNotHolder(
  noun: string,
  name: string,
  token: FencingToken,
  liveWithToken: number,
): DomainError {
  return liveWithToken > 0
    ? new DomainError(
        'not_holder',
        `the secret does not belong to grant ${token} of ${noun} "${name}"`,
      )
    : new DomainError(
        'grant_gone',
        `grant ${token} of ${noun} "${name}" no longer exists (released, or its lease expired)`,
      );
}
