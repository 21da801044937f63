import { z } from 'zod';
import { ttlSecondsField, type Limits } from '../schemas.js';

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
