import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { commonCodes, problemResponses } from '../openapi-problems.js';
import { electionName, fencingToken, slotName } from '../schemas.js';

const forcedRelease = z
  .object({
    slot: slotName,
    token: fencingToken,
    holder: z.string().nullable().openapi({ description: 'The holder label of the ended grant' }),
    session: z.boolean().openapi({ description: 'True when the grant ran under a session' }),
  })
  .openapi('ForcedRelease');

const endedLeadership = z
  .object({
    election: electionName,
    token: fencingToken,
    candidate: z.string().nullable(),
  })
  .openapi('EndedLeadership');

/** Registers the administrative operations (verb `admin`). */
export function registerAdminPaths(reg: OpenAPIRegistry): void {
  reg.registerPath({
    method: 'delete',
    path: '/v1/admin/slots/{slot}/grants/{token}',
    operationId: 'forceRelease',
    tags: ['admin'],
    summary: 'Force-release a grant without its secret (verb admin; audit-logged)',
    description:
      'Ends the grant created at `token` as if its lease had expired: its key is deleted only ' +
      'while it is still that grant, its per-grant lease is revoked, the next waiter is served. ' +
      'No release marker is written and a lock-delay key stays (the holder may still be ' +
      'acting). The holder learns it on its next keepalive (410 grant_gone). Each success ' +
      'writes an audit log line (principal, action, target, time, request id).',
    request: { params: z.object({ slot: slotName, token: fencingToken }) },
    responses: {
      200: { description: 'Released', content: { 'application/json': { schema: forcedRelease } } },
      ...problemResponses([...commonCodes, 'grant_gone']),
    },
  });
  reg.registerPath({
    method: 'delete',
    path: '/v1/admin/elections/{name}/leaders/{token}',
    operationId: 'endLeadership',
    tags: ['admin'],
    summary: 'End a leadership without its secret (verb admin; audit-logged)',
    description:
      'Ends the term created at `token` as if its lease had expired; the next candidate is ' +
      'promoted. Each success writes an audit log line.',
    request: { params: z.object({ name: electionName, token: fencingToken }) },
    responses: {
      200: { description: 'Ended', content: { 'application/json': { schema: endedLeadership } } },
      ...problemResponses([...commonCodes, 'grant_gone']),
    },
  });
}
