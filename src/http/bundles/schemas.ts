import { z } from 'zod';
import {
  fencingToken,
  holderLabel,
  slotName,
  ttlSecondsField,
  waitMsField,
  type Limits,
} from '../schemas.js';

/** One slot of a bundle request. */
function bundleSlot(l: Limits) {
  return z
    .strictObject({
      slot: slotName,
      capacity: z
        .number()
        .int()
        .min(1, 'must be at least 1')
        .max(l.capacityMax, `must be at most ${l.capacityMax}`)
        .default(1)
        .openapi({ description: 'Concurrent holders of this slot (1 = exclusive); must match it' }),
      lockDelayMs: z
        .number()
        .int()
        .min(0)
        .max(l.lockDelayMaxMs, `must be at most ${l.lockDelayMaxMs}`)
        .default(0)
        .openapi({ description: "This slot's lock-delay (ms); must match it; not with a session" }),
    })
    .openapi('BundleSlot');
}

/** POST /v1/bundles: every slot at once or none; at most `maxSlots` distinct slots. */
export function bundleBody(l: Limits, maxSlots: number) {
  return z
    .strictObject({
      holder: holderLabel,
      slots: z
        .array(bundleSlot(l))
        .min(1, 'must name at least one slot')
        .max(maxSlots, `must name at most ${maxSlots} slots`)
        .refine(
          slots => new Set(slots.map(s => s.slot)).size === slots.length,
          'must name each slot at most once',
        )
        .openapi({ description: `The slots to take together (1 to ${maxSlots}, no duplicates)` }),
      ttlSeconds: ttlSecondsField(
        l,
        'Lease TTL in seconds of the whole bundle (ignored under a session, whose TTL applies)',
      ),
      waitMs: waitMsField(
        l,
        'How long to wait until every slot has room; 0 or absent = try once. Or use Prefer: wait=N',
      ),
      session: z.string().max(200).optional().openapi({
        description: 'Session token from POST /v1/sessions; the bundle then lives on that session',
      }),
    })
    .openapi('BundleRequest');
}

export const bundleResponse = z
  .object({
    bundle: z.string().openapi({ description: 'Public id of the bundle (shown in slot views)' }),
    token: fencingToken.openapi({
      description:
        'The revision at which every member key was created: the fencing token of the bundle in each of its slots',
    }),
    secret: z.string().openapi({
      description: 'Bundle secret: send as "Slotlock-Secret: <secret>" to renew or release',
    }),
    holder: holderLabel,
    slots: z.array(
      z.object({
        slot: slotName,
        token: fencingToken,
        capacity: z.number().int(),
        lockDelayMs: z.number().int(),
      }),
    ),
    ttlSeconds: z.number().int(),
    expiresInMs: z
      .number()
      .int()
      .openapi({ description: 'Time left on the lease, measured before etcd extended it' }),
    waited: z.boolean(),
    session: z.boolean(),
  })
  .openapi('Bundle');

export const bundleKeepAliveResponse = z
  .object({
    token: fencingToken,
    ttlSeconds: z.number().int(),
    expiresInMs: z.number().int(),
  })
  .openapi('BundleKeepAlive');
