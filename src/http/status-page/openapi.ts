import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { electionName, fencingToken, holderLabel, slotName } from '../schemas.js';

const holder = z.object({
  holder: holderLabel,
  token: fencingToken,
  expiresInMs: z.number().int().nullable().openapi({ description: 'null for a session lease' }),
  session: z.boolean(),
  bundle: z
    .object({ id: z.string(), slots: z.array(z.string()) })
    .optional()
    .openapi({ description: 'Set for a member of a bundle (several slots held together)' }),
});

const leader = z.object({
  candidate: z.string(),
  value: z.string(),
  token: fencingToken,
  expiresInMs: z.number().int(),
});

const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), truncated: z.boolean(), limit: z.number().int() });

const status = z.enum(['ok', 'breach', 'no_data', 'tracked']);

const sli = z.object({
  id: z.enum([
    'acquire_p95',
    'contention',
    'election_p95',
    'etcd_txn_p95',
    'availability',
    'stale_tokens',
  ]),
  name: z.string().openapi({ description: 'The SLI as the design notes name it' }),
  unit: z.enum(['seconds', 'ratio', 'count']),
  comparator: z.enum(['<=', '>=', '=']).nullable(),
  target: z.number().nullable().openapi({ description: 'The SLO; null: tracked only' }),
  recent: z.number().nullable(),
  sinceStart: z.number().nullable(),
  events: z.object({ recent: z.number(), sinceStart: z.number() }),
  status,
  statusSinceStart: status,
});

/** The body of `GET /v1/status`. */
export const statusReportSchema = z
  .object({
    generatedAt: z.string().openapi({ format: 'date-time' }),
    etcd: z.union([
      z.object({ ok: z.literal(true) }),
      z.object({ ok: z.literal(false), detail: z.string() }),
    ]),
    replica: z.object({ id: z.string(), version: z.string(), commit: z.string() }).openapi({
      description: 'The replica that answered (REPLICA_ID or host name) and its build',
    }),
    unavailable: z
      .array(z.enum(['slots', 'elections']))
      .optional()
      .openapi({ description: 'Parts that could not be read for a reason other than etcd' }),
    slots: page(
      z.object({
        slot: slotName,
        capacity: z.number().int().nullable(),
        holders: z.array(holder),
        waiting: z.number().int(),
      }),
    ).optional(),
    elections: page(
      z.object({ election: electionName, leader: leader.nullable(), waiting: z.number().int() }),
    ).optional(),
    slis: z.object({
      windowS: z.number(),
      maxWindowS: z.number(),
      slis: z.array(sli),
    }),
    note: z.string(),
  })
  .openapi('StatusReport');

/** Registers `GET /v1/status` (the status page at `/` and its assets are not API). */
export function registerStatusPaths(reg: OpenAPIRegistry): void {
  reg.registerPath({
    method: 'get',
    path: '/v1/status',
    operationId: 'status',
    tags: ['health'],
    summary: 'Everything the status page at / shows, in one call',
    description:
      'Slots with contenders (the first 100 by name) with their holders and waiting counts, ' +
      'elections with their leaders, and SLIs computed in this replica from its own metrics ' +
      '(since start, and over a recent window of at most 5 min). The SLIs approximate the ' +
      'Prometheus recording rules for this replica only. When etcd cannot be read the SLIs ' +
      'are still returned, with etcd.ok false and no slots or elections.',
    responses: {
      200: {
        description: 'The status report',
        content: { 'application/json': { schema: statusReportSchema } },
      },
    },
  });
}
