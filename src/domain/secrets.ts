import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets come from one CSPRNG draw per 64 (as Node's randomUUID caches its random bytes): a
 * synchronous `randomBytes(32)` per acquire was a visible share of the acquire path's CPU.
 */
const SECRET_BYTES = 32;
const SECRETS_PER_DRAW = 64;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/**
 * Holder secrets. A grant's key name is the SHA-256 of its secret, so presenting the secret is
 * what proves ownership and the secret itself is never stored. With an Idempotency-Key the secret
 * is derived from that key and the slot, so a retried acquire on any replica finds the same grant:
 * such a key is then a credential and must be unguessable (we require at least 16 characters).
 */
export function newSecret(): string {
  if (randomOffset + SECRET_BYTES > randomPool.length) {
    randomPool = randomBytes(SECRET_BYTES * SECRETS_PER_DRAW);
    randomOffset = 0;
  }
  const end = randomOffset + SECRET_BYTES;
  const secret = randomPool.toString('base64url', randomOffset, end);
  // Each byte serves one secret only: wiped once used.
  randomPool.fill(0, randomOffset, end);
  randomOffset = end;
  return secret;
}

/** The secret a retried acquire with the same Idempotency-Key derives for the same slot. */
export function secretFromIdempotencyKey(idempotencyKey: string, slot: string): string {
  return createHmac('sha256', idempotencyKey)
    .update(`slotlock/grant-secret/v1\0${slot}`)
    .digest('base64url');
}

/** The public id (key name) that belongs to a secret. */
export function idOfSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** A stable fingerprint of a request body, to tell a true retry from a reuse of the key. */
export function fingerprint(parts: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(parts)
      .sort()
      .map(k => [k, parts[k]]),
  );
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

/** Constant-time string equality. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
