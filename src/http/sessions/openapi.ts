import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { bodyCodes, commonCodes, problemResponses } from '../openapi-problems.js';
import { type Limits } from '../schemas.js';
import { sessionBody, sessionResponse, sessionView } from './schemas.js';

// The handler's own params schema is private to sessions.ts; this one only documents it.
const sessionParams = z.object({
  id: z.string().openapi({
    description: 'Session id: the part of the session token before "."',
    example: '694d7a1c2b3e4f50',
  }),
});

const sessionToken = [{ sessionToken: [] }];

/** Registers /v1/sessions: create, read, keepalive, end (which releases every grant under it). */
export function registerSessionPaths(reg: OpenAPIRegistry, l: Limits): void {
  reg.registerPath({
    method: 'post',
    path: '/v1/sessions',
    operationId: 'createSession',
    tags: ['sessions'],
    summary: 'Create a session (one lease for many grants)',
    description:
      'Grants acquired with {"session": <token>} live on the session lease: one keepalive ' +
      'renews them all, and ending or losing the session releases them all.',
    request: {
      body: { required: false, content: { 'application/json': { schema: sessionBody(l) } } },
    },
    responses: {
      201: {
        description: 'Created',
        headers: z.object({
          Location: z.string().openapi({ description: '/v1/sessions/{id}' }),
        }),
        content: { 'application/json': { schema: sessionResponse } },
      },
      ...problemResponses([...commonCodes, ...bodyCodes, 'quota_exceeded']),
    },
  });

  reg.registerPath({
    method: 'get',
    path: '/v1/sessions/{id}',
    operationId: 'readSession',
    tags: ['sessions'],
    summary: 'The TTL and time left of a session (no secret needed)',
    description:
      'Anyone who knows the id may read whether the session lives and how long it has left; ' +
      'the session token is never shown. A lease that is not a session answers 410 like an ' +
      'ended one.',
    request: { params: sessionParams },
    responses: {
      200: { description: 'The session', content: { 'application/json': { schema: sessionView } } },
      ...problemResponses([...commonCodes, 'session_gone']),
    },
  });

  reg.registerPath({
    method: 'post',
    path: '/v1/sessions/{id}/keepalive',
    operationId: 'keepAliveSession',
    tags: ['sessions'],
    summary: 'Renew a session lease',
    security: sessionToken,
    request: { params: sessionParams },
    responses: {
      200: {
        description: 'Renewed',
        content: {
          'application/json': {
            schema: sessionResponse.omit({ session: true }).openapi('SessionKeepAlive'),
          },
        },
      },
      ...problemResponses([...commonCodes, 'session_gone']),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/sessions/{id}',
    operationId: 'endSession',
    tags: ['sessions'],
    summary: 'End a session, releasing every grant taken under it',
    security: sessionToken,
    request: { params: sessionParams },
    responses: {
      204: { description: 'Ended' },
      ...problemResponses([...commonCodes, 'session_gone']),
    },
  });
}
