import { createHash } from 'node:crypto';
import { z } from 'zod';
import { permissionsSchema } from './permissions.js';
import type { Principal } from './principal.js';

const principalName = z
  .string()
  .regex(/^[A-Za-z0-9._:@-]{1,128}$/, '1-128 of letters, digits and . _ : @ -');

/**
 * The API key file (JSON, named by AUTH_API_KEYS_FILE): `keys` hold the SHA-256 (hex) of each
 * API key, never the key; `clients` give client-certificate subjects (CN or a DNS/URI SAN) their
 * permissions. Each entry's `id` becomes the principal id `key:<id>` or `cert:<id>`.
 */
export const apiKeyFileSchema = z.strictObject({
  keys: z
    .array(
      z.strictObject({
        id: principalName,
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the hex SHA-256 of the key (64 lowercase hex)'),
        permissions: permissionsSchema,
      }),
    )
    .default([]),
  clients: z
    .array(
      z.strictObject({
        id: principalName,
        subject: z.string().min(1).max(256),
        permissions: permissionsSchema,
      }),
    )
    .default([]),
});

/** The hex SHA-256 of an API key, as stored in the file (`printf %s "$KEY" | sha256sum`). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * The principals of one version of the API key file. A key is looked up by its hash (keys are
 * long random strings, so a fast hash is enough; nothing compares secrets byte by byte).
 */
export class ApiKeyTable {
  private readonly byHash: ReadonlyMap<string, Principal>;
  private readonly bySubject: ReadonlyMap<string, Principal>;

  private constructor(byHash: Map<string, Principal>, bySubject: Map<string, Principal>) {
    this.byHash = byHash;
    this.bySubject = bySubject;
  }

  /** Parses the file's content; throws with the JSON pointer of the first bad field. */
  static parse(content: string): ApiKeyTable {
    const parsed = apiKeyFileSchema.safeParse(JSON.parse(content));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `invalid API key file at /${issue?.path.join('/') ?? ''}: ${issue?.message ?? ''}`,
      );
    }
    const byHash = new Map<string, Principal>();
    for (const k of parsed.data.keys) {
      byHash.set(k.sha256, {
        id: `key:${k.id}`,
        via: 'api-key',
        authenticated: true,
        permissions: k.permissions,
      });
    }
    const bySubject = new Map<string, Principal>();
    for (const c of parsed.data.clients) {
      bySubject.set(c.subject, {
        id: `cert:${c.id}`,
        via: 'client-cert',
        authenticated: true,
        permissions: c.permissions,
      });
    }
    return new ApiKeyTable(byHash, bySubject);
  }

  /** An empty table (client certificates then carry no permissions). */
  static empty(): ApiKeyTable {
    return new ApiKeyTable(new Map(), new Map());
  }

  /** The principal of an API key, if the key is in the file. */
  byKey(key: string): Principal | undefined {
    return this.byHash.get(hashApiKey(key));
  }

  /** The principal of the first listed certificate subject among `names`, if any. */
  bySubjectNames(names: readonly string[]): Principal | undefined {
    for (const name of names) {
      const p = this.bySubject.get(name);
      if (p !== undefined) return p;
    }
    return undefined;
  }
}
