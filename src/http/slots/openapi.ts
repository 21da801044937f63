import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { bodyCodes, commonCodes, problemResponses } from '../openapi-problems.js';
import { fencingToken, idempotencyKey, slotName, type Limits } from '../schemas.js';
import {
  acquireBody,
  grantResponse,
  keepAliveResponse,
  listQuery,
  queuePosition,
  slotList,
  slotView,
  tokenCheck,
} from './schemas.js';

const slotParams = z.object({ slot: slotName });
const grantParams = z.object({ slot: slotName, token: fencingToken });

/** The `Prefer: wait=N` request header (RFC 7240), described with the deployment's cap. */
export function preferHeader(l: Limits): z.ZodOptional<z.ZodString> {
  return z
    .string()
    .optional()
    .openapi({
      description:
        `RFC 7240 preference "wait=N": long-poll up to N seconds (at most ${l.waitMaxMs / 1000}). ` +
        'Used when the body has no waitMs; answered with Preference-Applied.',
      example: 'wait=10',
    });
}

export const preferenceApplied = z
  .string()
  .optional()
  .openapi({ description: 'Echoes the Prefer: wait=N that was honoured', example: 'wait=10' });

const holderSecret = [{ holderSecret: [] }];

/** Registers the /v1/slots operations: acquire, keepalive, release, inspect, list, token, queue. */
export function registerSlotPaths(reg: OpenAPIRegistry, l: Limits): void {
  const grantHeaders = z.object({
    Location: z.string().openapi({
      description: 'The grant: /v1/slots/{slot}/grants/{token} ("/" in the slot as %2F)',
      example: '/v1/slots/driver:42/grants/4387',
    }),
    'Preference-Applied': preferenceApplied,
  });
  reg.registerPath({
    method: 'post',
    path: '/v1/slots/{slot}/grants',
    operationId: 'acquire',
    tags: ['slots'],
    summary: 'Acquire a slot (try once, or long-poll in the FIFO queue)',
    description:
      'Creates a grant whose fencing token is the etcd create revision of the holder key. ' +
      `Waiting (waitMs or Prefer: wait=N) is capped at ${l.waitMaxMs} ms; a client that ` +
      'disconnects leaves the queue at once. With an Idempotency-Key a retry returns the same ' +
      'grant (200) instead of a second one.',
    request: {
      params: slotParams,
      headers: z.object({
        'Idempotency-Key': idempotencyKey.optional().openapi({
          description:
            'Makes the acquire retryable: the same key and body return the same grant (200). ' +
            'Also names a queued acquire for GET/DELETE .../queue. Use a random UUID.',
        }),
        Prefer: preferHeader(l),
      }),
      body: { required: true, content: { 'application/json': { schema: acquireBody(l) } } },
    },
    responses: {
      200: {
        description: 'Idempotent replay: the grant made earlier with this Idempotency-Key',
        headers: grantHeaders,
        content: { 'application/json': { schema: grantResponse } },
      },
      201: {
        description: 'Granted',
        headers: grantHeaders,
        content: { 'application/json': { schema: grantResponse } },
      },
      ...problemResponses([
        ...commonCodes,
        ...bodyCodes,
        'slot_busy',
        'wait_timeout',
        'wait_cancelled',
        'capacity_conflict',
        'acquire_in_progress',
        'idempotency_conflict',
        'quota_exceeded',
        'session_gone',
        'grant_gone',
      ]),
    },
  });

  reg.registerPath({
    method: 'post',
    path: '/v1/slots/{slot}/grants/{token}/keepalive',
    operationId: 'keepAlive',
    tags: ['slots'],
    summary: 'Renew a grant lease',
    description: 'Send about every ttlSeconds/3. Any replica can serve it.',
    security: holderSecret,
    request: { params: grantParams },
    responses: {
      200: {
        description: 'Renewed',
        content: { 'application/json': { schema: keepAliveResponse } },
      },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/slots/{slot}/grants/{token}',
    operationId: 'release',
    tags: ['slots'],
    summary: 'Release a grant',
    description:
      'Deletes the holder key only if it is still the one created at {token}, so a retried ' +
      'release never removes a newer holder. The next waiter is promoted at once.',
    security: holderSecret,
    request: { params: grantParams },
    responses: {
      204: { description: 'Released' },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });

  reg.registerPath({
    method: 'get',
    path: '/v1/slots/{slot}',
    operationId: 'inspectSlot',
    tags: ['slots'],
    summary: 'Holders and queue length of a slot',
    request: { params: slotParams },
    responses: {
      200: { description: 'The slot', content: { 'application/json': { schema: slotView } } },
      ...problemResponses(commonCodes),
    },
  });

  reg.registerPath({
    method: 'get',
    path: '/v1/slots',
    operationId: 'listSlots',
    tags: ['slots'],
    summary: 'Slots with contenders, by name prefix',
    request: { query: listQuery },
    responses: {
      200: { description: 'Slots', content: { 'application/json': { schema: slotList } } },
      ...problemResponses(commonCodes),
    },
  });

  registerTokenAndQueuePaths(reg);
}

function registerTokenAndQueuePaths(reg: OpenAPIRegistry): void {
  reg.registerPath({
    method: 'get',
    path: '/v1/slots/{slot}/tokens/{token}',
    operationId: 'checkToken',
    tags: ['slots', 'fencing'],
    summary: 'Is a fencing token still current?',
    description:
      'For a resource guarded by the slot: compare tokens as integers (decimal strings, ' +
      'up to 2^63-1) and reject writes carrying a token below highestToken.',
    request: { params: grantParams },
    responses: {
      200: { description: 'Token status', content: { 'application/json': { schema: tokenCheck } } },
      ...problemResponses(commonCodes),
    },
  });

  const queueKey = z.object({
    'Idempotency-Key': idempotencyKey.openapi({
      description: 'The Idempotency-Key the acquire was made with (by the same principal)',
    }),
  });
  reg.registerPath({
    method: 'get',
    path: '/v1/slots/{slot}/queue',
    operationId: 'queuePosition',
    tags: ['slots'],
    summary: 'Queue position of an acquire, named by its Idempotency-Key',
    request: { params: slotParams, headers: queueKey },
    responses: {
      200: {
        description: 'Position (0 = first)',
        content: { 'application/json': { schema: queuePosition } },
      },
      ...problemResponses([...commonCodes, 'not_found']),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/slots/{slot}/queue',
    operationId: 'cancelAcquire',
    tags: ['slots'],
    summary: 'Withdraw an acquire (waiting or holding), named by its Idempotency-Key',
    description:
      'Abandons the acquire made with this Idempotency-Key by this principal, whatever its ' +
      'state: a waiter leaves the queue (its long-poll answers 409 wait_cancelled); a grant it ' +
      'already holds ends as on lease expiry. The key is bound to the principal that used it: ' +
      'for another principal it names nothing (404).',
    request: { params: slotParams, headers: queueKey },
    responses: {
      204: { description: 'Withdrawn' },
      ...problemResponses([...commonCodes, 'not_found']),
    },
  });
}
