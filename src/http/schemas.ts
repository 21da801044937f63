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
function ttlSecondsField(l: Limits, description: string) {
  return z
    .number()
    .int('must be a whole number of seconds')
    .min(l.ttlMinS, `must be at least ${l.ttlMinS}`)
    .max(l.ttlMaxS, `must be at most ${l.ttlMaxS}`)
    .default(l.ttlDefaultS)
    .openapi({ description });
}

/** How long a long-poll may wait, up to the configured cap (acquires, campaigns). */
function waitMsField(l: Limits, description: string) {
  return z
    .number()
    .int()
    .min(0)
    .max(l.waitMaxMs, `must be at most ${l.waitMaxMs} (the long-poll cap)`)
    .optional()
    .openapi({ description });
}

export function acquireBody(l: Limits) {
  return z
    .strictObject({
      holder: holderLabel,
      ttlSeconds: ttlSecondsField(
        l,
        'Lease TTL in seconds (ignored under a session, whose TTL applies)',
      ),
      capacity: z
        .number()
        .int()
        .min(1, 'must be at least 1')
        .max(l.capacityMax, `must be at most ${l.capacityMax}`)
        .default(1)
        .openapi({
          description: 'Concurrent holders allowed (1 = exclusive lock); must match the slot',
        }),
      waitMs: waitMsField(
        l,
        'How long to wait in the queue; 0 or absent = try once. Or use Prefer: wait=N',
      ),
      lockDelayMs: z
        .number()
        .int()
        .min(0)
        .max(l.lockDelayMaxMs, `must be at most ${l.lockDelayMaxMs}`)
        .optional()
        .openapi({
          description:
            'Per-slot lock-delay: after a holder expires without releasing, its place stays closed this long (ms). Must match the slot; not with a session.',
        }),
      session: z.string().max(200).optional().openapi({
        description: 'Session token from POST /v1/sessions; the grant then lives on that session',
      }),
    })
    .openapi('AcquireRequest');
}

export const grantResponse = z
  .object({
    slot: slotName,
    token: fencingToken,
    secret: z.string().openapi({
      description: 'Holder secret: send as "Authorization: Bearer <secret>" to renew or release',
    }),
    holder: holderLabel,
    capacity: z.number().int(),
    ttlSeconds: z.number().int(),
    expiresInMs: z
      .number()
      .int()
      .openapi({ description: 'Time left on the lease, measured before etcd extended it' }),
    waited: z.boolean(),
    session: z.boolean(),
  })
  .openapi('Grant');

export const keepAliveResponse = z
  .object({
    slot: slotName,
    token: fencingToken,
    ttlSeconds: z.number().int(),
    expiresInMs: z.number().int(),
  })
  .openapi('KeepAlive');

export const slotView = z
  .object({
    slot: slotName,
    capacity: z.number().int().nullable(),
    holders: z.array(
      z.object({
        holder: z.string(),
        token: fencingToken,
        expiresInMs: z.number().int().nullable(),
        session: z.boolean(),
      }),
    ),
    waiting: z.number().int(),
    lockDelayMs: z.number().int(),
    blockedByLockDelay: z.number().int(),
    lastReleasedToken: fencingToken.nullable(),
    revision: z.string(),
  })
  .openapi('Slot');

export const slotList = z
  .object({
    slots: z.array(z.object({ slot: slotName, contenders: z.number().int() })),
    truncated: z.boolean(),
  })
  .openapi('SlotList');

export const listQuery = z.strictObject({
  prefix: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9._:/-]*$/, 'may contain only letters, digits and . _ : / -')
    .default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const tokenCheck = z
  .object({
    slot: slotName,
    token: fencingToken,
    current: z
      .boolean()
      .openapi({ description: 'True if the token is one of the slot current grants' }),
    highestToken: fencingToken.nullable(),
    revision: z.string(),
  })
  .openapi('TokenCheck');

export const queuePosition = z
  .object({
    slot: slotName,
    token: fencingToken,
    position: z.number().int(),
    holding: z.boolean(),
    capacity: z.number().int(),
  })
  .openapi('QueuePosition');

export function sessionBody(l: Limits) {
  return z
    .strictObject({
      ttlSeconds: ttlSecondsField(l, 'Session lease TTL in seconds; renew it every TTL/3'),
    })
    .openapi('SessionRequest');
}

export const sessionResponse = z
  .object({
    session: z
      .string()
      .openapi({ description: 'Session token "<id>.<secret>": a credential, keep it private' }),
    id: z.string(),
    ttlSeconds: z.number().int(),
    expiresInMs: z.number().int(),
  })
  .openapi('Session');

export const idempotencyKey = z
  .string()
  .min(16, 'must be at least 16 characters (it is a credential: use a random UUID)')
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII');

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    instance: z.string().optional(),
    retryAfterSeconds: z.number().int().optional(),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
  })
  .openapi('Problem');

/** Values a candidate or leader publishes: at most 4096 characters. */
export const electionValue = z
  .string()
  .max(4096, 'must be at most 4096 characters')
  .openapi({ description: 'Value published with the leadership (e.g. the leader address)' });

export function campaignBody(l: Limits) {
  return z
    .strictObject({
      candidate: holderLabel.openapi({
        description: 'Who stands (shown to observers; not a credential)',
        example: 'worker-2',
      }),
      value: electionValue.default(''),
      ttlSeconds: ttlSecondsField(l, 'Lease TTL in seconds; the leader renews it every TTL/3'),
      waitMs: waitMsField(
        l,
        'How long to wait to become leader; 0 or absent = try once. Or use Prefer: wait=N',
      ),
    })
    .openapi('CampaignRequest');
}

export const leadershipResponse = z
  .object({
    election: electionName,
    token: fencingToken.openapi({
      description: 'Term token: create revision of the leader key; grows with every new leader',
    }),
    secret: z.string().openapi({
      description: 'Leader secret: "Authorization: Bearer <secret>" to renew, proclaim, resign',
    }),
    candidate: holderLabel,
    value: electionValue,
    ttlSeconds: z.number().int(),
    expiresInMs: z
      .number()
      .int()
      .openapi({ description: 'Time left on the lease, measured before etcd extended it' }),
    waited: z.boolean(),
  })
  .openapi('Leadership');

export const electionKeepAliveResponse = z
  .object({
    election: electionName,
    token: fencingToken,
    ttlSeconds: z.number().int(),
    expiresInMs: z.number().int(),
  })
  .openapi('ElectionKeepAlive');

export const proclaimBody = z.strictObject({ value: electionValue }).openapi('ProclaimRequest');

export const proclaimResponse = z
  .object({ election: electionName, token: fencingToken, value: electionValue })
  .openapi('Proclaimed');

export const leaderState = z
  .object({
    election: electionName,
    leader: z
      .object({
        candidate: holderLabel,
        value: electionValue,
        token: fencingToken,
        expiresInMs: z
          .number()
          .int()
          .openapi({ description: 'Time left on the leader lease when read (0: just gone)' }),
      })
      .nullable()
      .openapi({ description: 'null: the election has no leader' }),
    revision: z.string().openapi({
      description: 'etcd revision the state was read at (the SSE event id in observe)',
    }),
  })
  .openapi('LeaderState');
