import type { OpenAPIRegistry, ZodMediaTypeObject } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { bodyCodes, commonCodes, problemResponses } from '../openapi-problems.js';
import { preferenceApplied, preferHeader } from '../slots/openapi.js';
import { idempotencyKey } from '../schemas.js';
import {
  campaignBody,
  electionKeepAliveResponse,
  leaderState,
  leadershipResponse,
  proclaimBody,
  proclaimResponse,
} from './schemas.js';
import { electionName, fencingToken, type Limits } from '../schemas.js';

const electionParams = z.object({ name: electionName });
const termParams = z.object({ name: electionName, token: fencingToken });
const holderSecret = [{ holderSecret: [] }];

/** The `problem` event of an observe stream that failed after its 200. */
const streamProblem = z
  .object({
    type: z.string().openapi({ description: '`urn:slotlock:problem:<code>`' }),
    code: z.string(),
    detail: z.string(),
  })
  .openapi('StreamProblem');

/**
 * The observe stream as a media type: OpenAPI 3.1 has no schema for SSE events, so `x-sse-events`
 * names each event with the schema of its JSON `data` (and whether it carries an `id`).
 */
const observeEvents = {
  schema: z.string().openapi({
    description: 'event: leader\\nid: <revision>\\ndata: <LeaderState JSON>\\n\\n',
  }),
  'x-sse-events': {
    leader: {
      description: 'The current leader state, then each change; id is the etcd revision',
      id: 'etcd revision (send it back as Last-Event-ID to resume)',
      data: { $ref: '#/components/schemas/LeaderState' },
    },
    problem: {
      description: 'The stream failed after the 200; reconnect with Last-Event-ID',
      data: { $ref: '#/components/schemas/StreamProblem' },
    },
  },
} as ZodMediaTypeObject;

/** Registers /v1/elections: campaign, keepalive, proclaim, resign, leader, observe (SSE). */
export function registerElectionPaths(reg: OpenAPIRegistry, l: Limits): void {
  reg.registerPath({
    method: 'post',
    path: '/v1/elections/{name}/campaign',
    operationId: 'campaign',
    tags: ['elections'],
    summary: 'Stand for election (try once, or long-poll until elected)',
    description:
      'Answers once etcd confirms the caller leads. The term token (create revision of the ' +
      `leader key) grows with every new leader. Waiting is capped at ${l.waitMaxMs} ms; on ` +
      'timeout or disconnect the candidacy is withdrawn. With an Idempotency-Key a retry ' +
      'returns the same term (200) instead of queueing a second candidacy.',
    request: {
      params: electionParams,
      headers: z.object({
        'Idempotency-Key': idempotencyKey.optional().openapi({
          description:
            'Makes the campaign retryable (e.g. after a 503 with outcome "unknown"): the same ' +
            'key and body return the same term (200). Use a random UUID.',
        }),
        Prefer: preferHeader(l),
      }),
      body: { required: true, content: { 'application/json': { schema: campaignBody(l) } } },
    },
    responses: {
      200: {
        description: 'Idempotent replay: the term won earlier with this Idempotency-Key',
        content: { 'application/json': { schema: leadershipResponse } },
      },
      201: {
        description: 'Elected',
        headers: z.object({
          Location: z.string().openapi({
            description: 'The term: /v1/elections/{name}/leaders/{token}',
          }),
          'Preference-Applied': preferenceApplied,
        }),
        content: { 'application/json': { schema: leadershipResponse } },
      },
      ...problemResponses([
        ...commonCodes,
        ...bodyCodes,
        'not_leader',
        'wait_timeout',
        'wait_cancelled',
        'acquire_in_progress',
        'idempotency_conflict',
        'quota_exceeded',
      ]),
    },
  });

  reg.registerPath({
    method: 'post',
    path: '/v1/elections/{name}/leaders/{token}/keepalive',
    operationId: 'keepAliveLeadership',
    tags: ['elections'],
    summary: 'Renew the leader lease',
    security: holderSecret,
    request: { params: termParams },
    responses: {
      200: {
        description: 'Renewed',
        content: { 'application/json': { schema: electionKeepAliveResponse } },
      },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });

  reg.registerPath({
    method: 'put',
    path: '/v1/elections/{name}/leaders/{token}/value',
    operationId: 'proclaim',
    tags: ['elections'],
    summary: 'Publish a new value for the term (token and lease unchanged)',
    security: holderSecret,
    request: {
      params: termParams,
      body: { required: true, content: { 'application/json': { schema: proclaimBody } } },
    },
    responses: {
      200: {
        description: 'Published',
        content: { 'application/json': { schema: proclaimResponse } },
      },
      ...problemResponses([
        ...commonCodes,
        ...bodyCodes,
        'not_holder',
        'grant_gone',
        'acquire_in_progress',
      ]),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/elections/{name}/leaders/{token}',
    operationId: 'resign',
    tags: ['elections'],
    summary: 'End the term; the next waiting candidate is promoted at once',
    security: holderSecret,
    request: { params: termParams },
    responses: {
      204: { description: 'Resigned' },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });

  registerReadPaths(reg);
}

/** Components only the SSE description refers to (zod-to-openapi does not see those refs). */
function registerEventSchemas(reg: OpenAPIRegistry): void {
  reg.register('LeaderState', leaderState);
  reg.register('StreamProblem', streamProblem);
}

function registerReadPaths(reg: OpenAPIRegistry): void {
  registerEventSchemas(reg);
  reg.registerPath({
    method: 'get',
    path: '/v1/elections/{name}/leader',
    operationId: 'leader',
    tags: ['elections'],
    summary: 'Who leads now (linearizable read)',
    request: { params: electionParams },
    responses: {
      200: {
        description: 'Leader state',
        content: { 'application/json': { schema: leaderState } },
      },
      ...problemResponses(commonCodes),
    },
  });

  reg.registerPath({
    method: 'get',
    path: '/v1/elections/{name}/observe',
    operationId: 'observe',
    tags: ['elections'],
    summary: 'Leader changes as Server-Sent Events',
    description:
      'Each change is an event "leader" whose data is a LeaderState and whose id is the etcd ' +
      'revision; reconnect with Last-Event-ID to resume without missing a change. Failures ' +
      'after the 200 arrive as an event "problem" with {type, code, detail}; then reconnect.',
    request: {
      params: electionParams,
      headers: z.object({
        'Last-Event-ID': fencingToken.optional().openapi({
          description: 'Resume after this revision (the id of the last event received)',
        }),
      }),
    },
    responses: {
      200: {
        description:
          'text/event-stream of "leader" events (data: LeaderState, id: revision) and, when the ' +
          'stream fails after the 200, one "problem" event (data: StreamProblem) before it ends. ' +
          "x-sse-events gives the schema of each event's data.",
        content: { 'text/event-stream': observeEvents },
      },
      ...problemResponses(commonCodes),
    },
  });
}
