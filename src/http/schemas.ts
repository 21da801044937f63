import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { Config } from '../config.js';

extendZodWithOpenApi(z);

/** Settings the request schemas depend on (bounds come from config). */
export interface Limits {
  ttlMinS: number;
  ttlMaxS: number;
  ttlDefaultS: number;
  waitMaxMs: number;
  capacityMax: number;
  lockDelayMaxMs: number;
  /** At most this many slots in one bundle. */
  bundleSlotsMax: number;
}

/** The request limits a configuration implies. */
export function limitsOf(c: Config): Limits {
  return {
    ttlMinS: c.TTL_MIN_S,
    ttlMaxS: c.TTL_MAX_S,
    ttlDefaultS: c.TTL_DEFAULT_S,
    waitMaxMs: c.WAIT_MAX_MS,
    capacityMax: c.CAPACITY_MAX,
    lockDelayMaxMs: c.LOCK_DELAY_MAX_MS,
    bundleSlotsMax: c.BUNDLE_SLOTS_MAX,
  };
}

const INT64_MAX = 9223372036854775807n;

/** Slot names: 1 to 256 bytes of `[A-Za-z0-9._:/-]`, percent-encoded in paths when they hold "/". */
export const slotName = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 bytes')
  .regex(/^[A-Za-z0-9._:/-]+$/, 'may contain only letters, digits and . _ : / -')
  .openapi({
    description: 'Slot name: 1-256 of [A-Za-z0-9._:/-]; percent-encode "/" in paths',
    example: 'driver:42',
  });

/** Election names follow the slot-name rules. */
export const electionName = slotName.openapi({ example: 'batch-dispatcher' });

/** A fencing token: an etcd revision as a decimal string, 1 to 2^63-1. */
export const fencingToken = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/, 'must be a positive decimal integer (an etcd revision)')
  .refine(s => !/^[0-9]+$/.test(s) || BigInt(s) <= INT64_MAX, 'must fit in a signed 64-bit integer')
  .openapi({
    description:
      'Fencing token: etcd create revision, decimal string. Strictly increasing within one slot ' +
      '(or election); tokens of different slots are unrelated and may be equal.',
    example: '4387',
  });

export const holderLabel = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII')
  .openapi({
    description: 'Who holds the grant (shown to others; not a credential)',
    example: 'dispatcher-7',
  });

/** A lease TTL in whole seconds within the configured limits (grants, sessions, campaigns). */
export function ttlSecondsField(l: Limits, description: string) {
  return z
    .number()
    .int('must be a whole number of seconds')
    .min(l.ttlMinS, `must be at least ${l.ttlMinS}`)
    .max(l.ttlMaxS, `must be at most ${l.ttlMaxS}`)
    .default(l.ttlDefaultS)
    .openapi({ description });
}

/** How long a long-poll may wait, up to the configured cap (acquires, campaigns). */
export function waitMsField(l: Limits, description: string) {
  return z
    .number()
    .int()
    .min(0)
    .max(l.waitMaxMs, `must be at most ${l.waitMaxMs} (the long-poll cap)`)
    .optional()
    .openapi({ description });
}

export const idempotencyKey = z
  .string()
  .min(16, 'must be at least 16 characters (it is a credential: use a random UUID)')
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII');

/**
 * An RFC 9457 problem body with every extension field slotlock sends; each extension appears only
 * with the codes its description names, so a typed client can read them without a cast.
 */
export const problem = z
  .object({
    type: z.string().openapi({ description: '`urn:slotlock:problem:<code>`' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ description: 'The stable error code (see the table above)' }),
    instance: z
      .string()
      .regex(/^urn:slotlock:request:/)
      .optional()
      .openapi({
        description: '`urn:slotlock:request:<id>`; the id is also in the X-Request-Id header',
        example: 'urn:slotlock:request:4f1c2a9e-0b7d-4c1e-9a51-2f6d3b8e7a10',
      }),
    retryAfterSeconds: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'The Retry-After header, in seconds, when one is sent' }),
    errors: z
      .array(z.object({ pointer: z.string(), detail: z.string() }))
      .optional()
      .openapi({
        description:
          'invalid_input (and payload_too_large of a fenced value): one JSON pointer per problem, ' +
          'rooted at /body, /params, /query or /headers',
      }),
    capacity: z.number().int().optional().openapi({
      description:
        "slot_busy and not_leader: the capacity asked for; capacity_conflict: the slot holders' capacity",
    }),
    lockDelayMs: z
      .number()
      .int()
      .optional()
      .openapi({ description: "capacity_conflict: the slot holders' lock-delay in ms" }),
    token: z
      .string()
      .optional()
      .openapi({ description: 'stale_token: the token the rejected write carried' }),
    winningToken: z.string().optional().openapi({
      description:
        'stale_token: the higher token that beat the write (record writer or newer grant)',
    }),
    currentHolderToken: z
      .string()
      .optional()
      .openapi({ description: "stale_token: the highest token among the slot's current holders" }),
    busy: z
      .array(z.string())
      .optional()
      .openapi({ description: 'slot_busy of a bundle: the slots that had no free place' }),
    slot: z
      .string()
      .optional()
      .openapi({ description: 'capacity_conflict of a bundle: the slot that disagrees' }),
    outcome: z
      .enum(['unknown'])
      .optional()
      .openapi({
        description:
          'etcd_unavailable of a write whose answer was lost after it was sent: it may have been ' +
          'applied. Retry with the same Idempotency-Key to find out.',
      }),
    verb: z
      .string()
      .optional()
      .openapi({ description: 'forbidden: the verb the principal may not use on that name' }),
    principal: z
      .string()
      .optional()
      .openapi({ description: 'forbidden: the principal the credential identified' }),
    quota: z.string().optional().openapi({
      description: 'quota_exceeded: which quota (grants, elections, sessions, waiters)',
    }),
    limit: z.number().optional().openapi({
      description:
        'quota_exceeded, storage_quota_exceeded and rate_limited: the limit that was hit',
    }),
    unit: z
      .string()
      .optional()
      .openapi({ description: 'storage_quota_exceeded: the unit of limit (records or bytes)' }),
    scope: z.string().optional().openapi({
      description: 'rate_limited: principal or replica; storage_quota_exceeded: slot or principal',
    }),
    windowSeconds: z
      .number()
      .optional()
      .openapi({ description: 'rate_limited: the window the limit counts requests over' }),
  })
  .openapi('Problem');
