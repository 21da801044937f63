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

/** `GET /v1/sessions/{id}`: what anyone may read about a session (never its token). */
export const sessionView = z
  .object({
    id: z.string(),
    ttlSeconds: z.number().int().openapi({
      description:
        "The TTL etcd granted the session's lease; every grant under the session reports it",
    }),
    expiresInMs: z
      .number()
      .int()
      .openapi({ description: 'Time left on the session lease, measured before it was read' }),
  })
  .openapi('SessionView');
