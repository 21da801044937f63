import { z } from 'zod';
import {
  fencingToken,
  holderLabel,
  slotName,
  ttlSecondsField,
  waitMsField,
  type Limits,
} from '../schemas.js';

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
      description: 'Holder secret: send as "Slotlock-Secret: <secret>" to renew or release',
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

const holderView = z.object({
  holder: z.string(),
  token: fencingToken,
  expiresInMs: z.number().int().nullable(),
  session: z.boolean(),
  bundle: z
    .object({ id: z.string(), slots: z.array(slotName) })
    .optional()
    .openapi({ description: 'Set for a member of a bundle: its id and all its slots' }),
});

export const slotView = z
  .object({
    slot: slotName,
    capacity: z.number().int().nullable(),
    holders: z.array(holderView),
    reservedByBundles: z.array(holderView).openapi({
      description:
        'Places among the first N kept by bundles still waiting for another of their slots (not holders; counted in waiting)',
    }),
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
    token: fencingToken.openapi({
      description:
        'The fencing token the acquire holds or will hold with (its key create revision)',
    }),
    position: z.number().int().openapi({
      description: 'Contenders ahead of it: holders and older waiters (0 = first in the slot)',
    }),
    holding: z
      .boolean()
      .openapi({ description: 'position < capacity: the acquire holds (or is being granted)' }),
    capacity: z.number().int(),
  })
  .openapi('QueuePosition');
