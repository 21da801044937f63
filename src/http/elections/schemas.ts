import { z } from 'zod';
import {
  fencingToken,
  holderLabel,
  electionName,
  ttlSecondsField,
  waitMsField,
  type Limits,
} from '../schemas.js';

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
      description: 'Leader secret: send as "Slotlock-Secret: <secret>" to renew, proclaim, resign',
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
