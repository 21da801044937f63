import { createHmac } from 'node:crypto';
import type { Response } from 'express';
import { principalOf } from './principal.js';

/**
 * Binds a (validated) Idempotency-Key to the request's principal, so that another principal
 * replaying the same key derives another grant secret and never receives the first one's grant,
 * queue position or withdrawal. The anonymous principal of a service without authentication
 * keeps the key as it is (secrets derived before this binding stay valid across an upgrade).
 * The result is the HMAC of the principal id under the key: still unguessable without the key.
 */
export function boundIdempotencyKey(res: Response, key: string): string {
  const p = principalOf(res);
  if (!p.authenticated && p.id === 'anonymous') return key;
  return createHmac('sha256', key)
    .update(`slotlock/idempotency-principal/v1\0${p.id}`)
    .digest('base64url');
}
