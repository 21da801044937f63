/** Credentials for auth tests: an API key file and a JWKS with a signing key, in a temp dir. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { hashApiKey } from '../../src/auth/api-keys.js';
import type { Permission } from '../../src/auth/principal.js';

export const ISSUER = 'https://idp.test.invalid/';
export const AUDIENCE = 'slotlock-test';

/** One API key principal as a test declares it. */
export interface TestKey {
  id: string;
  key: string;
  permissions: Permission[];
}

/** A fresh random API key. */
export function newApiKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}

/** A temp dir holding `keys.json` (written atomically, like a Secret update) and `jwks.json`. */
export class AuthFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'slotlock-auth-'));
  readonly keysFile = join(this.dir, 'keys.json');
  readonly jwksFile = join(this.dir, 'jwks.json');
  private signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'] | undefined;

  /** Writes the API key file (hashes only) by rename, so a reader never sees half a file. */
  writeKeys(keys: readonly TestKey[], clients: readonly object[] = []): void {
    const body = {
      keys: keys.map(k => ({ id: k.id, sha256: hashApiKey(k.key), permissions: k.permissions })),
      clients,
    };
    const tmp = `${this.keysFile}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, JSON.stringify(body, null, 2));
    renameSync(tmp, this.keysFile);
  }

  /** Generates an ES256 key pair and writes its public half as the JWKS file. */
  async writeJwks(): Promise<void> {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    this.signingKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    writeFileSync(this.jwksFile, JSON.stringify({ keys: [jwk] }));
  }

  /** A JWT signed with the JWKS key; `over` replaces claims (e.g. `exp`, `aud`). */
  async jwt(
    sub: string,
    permissions: Permission[],
    over: { exp?: number; aud?: string; iss?: string } = {},
  ): Promise<string> {
    if (this.signingKey === undefined) throw new Error('call writeJwks() first');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ slotlock_permissions: permissions })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(sub)
      .setIssuer(over.iss ?? ISSUER)
      .setAudience(over.aud ?? AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(over.exp ?? now + 300)
      .sign(this.signingKey);
  }

  /** The environment that turns on API keys and JWTs for these files. */
  env(): Record<string, string> {
    return {
      AUTH_API_KEYS_FILE: this.keysFile,
      AUTH_JWKS_FILE: this.jwksFile,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_JWT_CLOCK_SKEW_S: '5',
    };
  }
}

/** `Authorization: Bearer <credential>`. */
export function bearer(credential: string): Record<string, string> {
  return { authorization: `Bearer ${credential}` };
}
