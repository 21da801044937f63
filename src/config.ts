import { z } from 'zod';
import { limitsConfigShape } from './config-limits.js';

const commaList = z
  .string()
  .transform(s =>
    s
      .split(',')
      .map(part => part.trim())
      .filter(part => part.length > 0),
  )
  .pipe(
    z
      .array(z.url({ protocol: /^https?$/, error: 'each endpoint must be an http(s):// URL' }))
      .min(1),
  );

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false'], { error: 'must be "true" or "false"' })
  .transform(v => v === 'true');

/** Every setting slotlock reads from the environment, with its default and allowed range. */
export const configSchema = z
  .object({
    PORT: int(0, 65535).default(8080),
    HOST: z.string().min(1).optional(),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    ETCD_ENDPOINTS: commaList.optional(),
    ETCD_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]+\/$/, 'letters, digits, ".", "_", "-", ending in "/"')
      .default('slotlock/'),
    ETCD_USERNAME: z.string().min(1).optional(),
    ETCD_PASSWORD: z.string().min(1).optional(),
    ETCD_CA_FILE: z.string().min(1).optional(),
    ETCD_CERT_FILE: z.string().min(1).optional(),
    ETCD_KEY_FILE: z.string().min(1).optional(),
    ETCD_CALL_TIMEOUT_MS: int(100, 60_000).default(2000),
    ETCD_TXN_BATCH_MAX: int(1, 128).default(32),
    ETCD_TXN_IN_FLIGHT: int(1, 64).default(2),
    /** etcd's --max-txn-ops (default 128): group-commit batches are sized to stay within it. */
    ETCD_MAX_TXN_OPS: int(8, 100_000).default(128),
    /** Per-grant leases granted ahead per TTL in use (src/etcd/lease-pool.ts); 0: pool off. */
    LEASE_POOL_SIZE: int(0, 64).default(4),
    ETCD_DATA_DIR: z.string().min(1).default('.data/etcd'),
    ...limitsConfigShape,
    TTL_MIN_S: int(2, 3600).default(2),
    TTL_MAX_S: int(2, 86_400).default(300),
    TTL_DEFAULT_S: int(2, 86_400).default(15),
    WAIT_MAX_MS: int(0, 120_000).default(30_000),
    CAPACITY_MAX: int(1, 100_000).default(1000),
    LOCK_DELAY_MAX_MS: int(0, 600_000).default(60_000),
    ELECTIONS_MAX: int(1, 10_000).default(100),
    // A release deletes 4 keys per slot and may read 2 heads per slot, all in one txn: 6n+1 ops stay
    // within etcd's default --max-txn-ops (128) up to 20 slots.
    BUNDLE_SLOTS_MAX: int(1, 20).default(16),
    RETRY_AFTER_S: int(1, 60).default(1),
    SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
    READINESS_TIMEOUT_MS: int(50, 30_000).default(1000),
    /** This replica's id in logs and on the status page (default: the host or pod name). */
    REPLICA_ID: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits, ".", "_", ":", "-", at most 128')
      .optional(),
    // Authentication and authorization (docs/security.md)
    AUTH_API_KEYS_FILE: z.string().min(1).optional(),
    AUTH_JWKS_FILE: z.string().min(1).optional(),
    AUTH_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    AUTH_JWT_ISSUER: z.string().min(1).optional(),
    AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
    AUTH_JWT_CLOCK_SKEW_S: int(0, 600).default(30),
    AUTH_PUBLIC_READS: bool.default(false),
    AUTH_PUBLIC_TOKEN_CHECKS: bool.default(false),
    SLOTLOCK_INSECURE_NO_AUTH: bool.default(false),
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),
    TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
    TLS_CLIENT_CERT_REQUIRED: bool.default(true),
  })
  .superRefine((c, ctx) => {
    if (c.TTL_MIN_S > c.TTL_MAX_S) {
      ctx.addIssue({ code: 'custom', path: ['TTL_MIN_S'], message: 'must not exceed TTL_MAX_S' });
    }
    if (c.TTL_DEFAULT_S < c.TTL_MIN_S || c.TTL_DEFAULT_S > c.TTL_MAX_S) {
      ctx.addIssue({
        code: 'custom',
        path: ['TTL_DEFAULT_S'],
        message: 'must lie between TTL_MIN_S and TTL_MAX_S',
      });
    }
    if ((c.ETCD_USERNAME === undefined) !== (c.ETCD_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ETCD_PASSWORD'],
        message: 'ETCD_USERNAME and ETCD_PASSWORD must be set together',
      });
    }
    if ((c.TLS_CERT_FILE === undefined) !== (c.TLS_KEY_FILE === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['TLS_KEY_FILE'],
        message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together',
      });
    }
    if (c.TLS_CLIENT_CA_FILE !== undefined && c.TLS_CERT_FILE === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['TLS_CLIENT_CA_FILE'],
        message: 'client certificates need HTTPS: set TLS_CERT_FILE and TLS_KEY_FILE too',
      });
    }
    if (
      (c.AUTH_JWKS_FILE !== undefined || c.AUTH_JWKS_URL !== undefined) &&
      (c.AUTH_JWT_ISSUER === undefined || c.AUTH_JWT_AUDIENCE === undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_AUDIENCE'],
        message: 'JWT verification needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE',
      });
    }
    if (c.AUTH_JWKS_FILE !== undefined && c.AUTH_JWKS_URL !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWKS_URL'],
        message: 'set AUTH_JWKS_FILE or AUTH_JWKS_URL, not both',
      });
    }
    if ((c.ETCD_CERT_FILE === undefined) !== (c.ETCD_KEY_FILE === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ETCD_KEY_FILE'],
        message: 'ETCD_CERT_FILE and ETCD_KEY_FILE must be set together',
      });
    }
  });

/** True when some way of authenticating callers is configured (API keys, JWTs, client certs). */
export function authConfigured(c: Config): boolean {
  return (
    c.AUTH_API_KEYS_FILE !== undefined ||
    c.AUTH_JWKS_FILE !== undefined ||
    c.AUTH_JWKS_URL !== undefined ||
    c.TLS_CLIENT_CA_FILE !== undefined
  );
}

/** Parsed, validated configuration. */
export type Config = z.output<typeof configSchema>;

/** Thrown by {@link loadConfig}; its message names each bad variable and what is allowed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses the environment once. Empty strings count as unset, so `PORT=` falls back to the default.
 * Throws {@link ConfigError} naming every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(configSchema.shape).flatMap(name => {
      const value = env[name];
      return value === undefined || value === '' ? [] : [[name, value]];
    }),
  );
  const result = configSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map(issue => {
      const [variable, ...rest] = issue.path;
      const name = typeof variable === 'string' ? variable : 'config';
      const item = typeof rest[0] === 'number' ? ` (item ${rest[0] + 1})` : '';
      const given = typeof variable === 'string' ? present[variable] : undefined;
      return `  ${name}: ${issue.message}${item}${given === undefined ? '' : ` (got ${JSON.stringify(given)})`}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
