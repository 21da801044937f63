import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { bodyCodes, commonCodes, problemResponses } from '../openapi-problems.js';
import { fencingToken, idempotencyKey, type Limits } from '../schemas.js';
import { preferenceApplied, preferHeader } from '../slots/openapi.js';
import { bundleBody, bundleKeepAliveResponse, bundleResponse } from './schemas.js';

const bundleParams = z.object({ token: fencingToken });
const holderSecret = [{ holderSecret: [] }];

/** Registers the /v1/bundles operations: acquire several slots at once, keepalive, release. */
export function registerBundlePaths(reg: OpenAPIRegistry, l: Limits): void {
  const maxSlots = l.bundleSlotsMax;
  const headers = z.object({
    Location: z.string().openapi({
      description: 'The bundle: /v1/bundles/{token}',
      example: '/v1/bundles/4387',
    }),
    'Preference-Applied': preferenceApplied,
  });
  reg.registerPath({
    method: 'post',
    path: '/v1/bundles',
    operationId: 'acquireBundle',
    tags: ['bundles'],
    summary: 'Acquire several slots together: all of them, or none',
    description:
      'One etcd transaction puts an ordinary contender key in every slot on one lease, so the ' +
      'keys share one revision: the fencing token of the bundle in each slot. Bundles and ' +
      'single-slot acquires are ordered the same way in every slot they share, so waiting is ' +
      'FIFO and never deadlocks. Granted once the bundle is among the first N of every slot; ' +
      `try mode answers slot_busy with the busy slots and leaves nothing behind. At most ${maxSlots} ` +
      `slots, each named once; waiting is capped at ${l.waitMaxMs} ms.`,
    request: {
      headers: z.object({
        'Idempotency-Key': idempotencyKey.optional().openapi({
          description:
            'Makes the acquire retryable: the same key and body return the same bundle (200). Use a random UUID.',
        }),
        Prefer: preferHeader(l),
      }),
      body: {
        required: true,
        content: { 'application/json': { schema: bundleBody(l, maxSlots) } },
      },
    },
    responses: {
      200: {
        description: 'Idempotent replay: the bundle granted earlier with this Idempotency-Key',
        headers,
        content: { 'application/json': { schema: bundleResponse } },
      },
      201: {
        description: 'Every slot granted',
        headers,
        content: { 'application/json': { schema: bundleResponse } },
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
        'session_gone',
        'grant_gone',
      ]),
    },
  });

  reg.registerPath({
    method: 'post',
    path: '/v1/bundles/{token}/keepalive',
    operationId: 'keepBundleAlive',
    tags: ['bundles'],
    summary: "Renew a bundle's lease (every slot of it)",
    security: holderSecret,
    request: { params: bundleParams },
    responses: {
      200: {
        description: 'Renewed',
        content: { 'application/json': { schema: bundleKeepAliveResponse } },
      },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/bundles/{token}',
    operationId: 'releaseBundle',
    tags: ['bundles'],
    summary: 'Release every slot of a bundle at once',
    description:
      'One transaction deletes every key of the bundle, only if each is still the one created ' +
      'at {token}; the next waiters of each slot are promoted at once.',
    security: holderSecret,
    request: { params: bundleParams },
    responses: {
      204: { description: 'Released' },
      ...problemResponses([...commonCodes, 'not_holder', 'grant_gone']),
    },
  });
}
