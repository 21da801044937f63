import { readFileSync } from 'node:fs';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { errorCodes } from '../domain/errors.js';
import { registerBundlePaths } from './bundles/openapi.js';
import { registerAdminPaths } from './admin/openapi.js';
import { registerElectionPaths } from './elections/openapi.js';
import { registerSecuritySchemes, requireCallerAuth } from './openapi-security.js';
import { registerFencingPaths } from './fencing/openapi.js';
import { retryAfterHeader } from './openapi-problems.js';
import { registerSessionPaths } from './sessions/openapi.js';
import { registerSlotPaths } from './slots/openapi.js';
import { problemType, statusOf } from './problem.js';
import { registerStatusPaths } from './status-page/openapi.js';
import type { Limits } from './schemas.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The OpenAPI 3.1 document object (as the generator returns it). */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/**
 * The OpenAPI 3.1 description of the slotlock HTTP API, generated from the zod schemas the
 * handlers validate with; `limits` fill in the TTL, capacity and long-poll bounds. The committed
 * openapi.json is this document for the default configuration (npm run gen:openapi).
 */
export function buildOpenApi(limits: Limits): OpenApiDocument {
  const reg = new OpenAPIRegistry();
  registerSecuritySchemes(reg);
  registerSlotPaths(reg, limits);
  registerBundlePaths(reg, limits);
  registerAdminPaths(reg);
  registerSessionPaths(reg, limits);
  registerElectionPaths(reg, limits);
  registerFencingPaths(reg);
  registerHealthPaths(reg);
  registerStatusPaths(reg);
  const doc = new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'slotlock',
      version,
      description: overview(limits),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The slotlock replica serving this document' }],
    tags: [
      { name: 'slots', description: 'Locks and counting semaphores with fencing tokens' },
      { name: 'bundles', description: 'Several slots at once: all or none, FIFO, deadlock-free' },
      { name: 'sessions', description: 'One lease shared by many grants' },
      { name: 'elections', description: 'Leader election: campaign, proclaim, resign, observe' },
      { name: 'fencing', description: 'Checking fencing tokens at the guarded resource' },
      { name: 'health', description: 'Probes and metrics (not under /v1)' },
      { name: 'admin', description: 'Force-release and end leaderships (verb admin, audited)' },
    ],
  });
  requireCallerAuth(doc);
  return doc;
}

function overview(l: Limits): string {
  const codes = errorCodes
    .map(code => `| \`${code}\` | ${statusOf[code]} | \`${problemType(code)}\` |`)
    .join('\n');
  return [
    'Dispatch-slot locks, counting semaphores, fencing tokens and leader election over REST, ' +
      'backed by etcd v3 leases. Any replica can serve any request.',
    '',
    '- **Fencing tokens** are etcd revisions sent as **decimal strings** (they can exceed ' +
      '2^53): compare them as integers, never as JSON numbers.',
    '- **Names** (slots, elections) are 1-256 of `[A-Za-z0-9._:/-]`; percent-encode "/" as ' +
      '`%2F` in paths.',
    `- **Long-polls** (waitMs or \`Prefer: wait=N\`) are capped at ${l.waitMaxMs / 1000} s; ` +
      'retry after a 409 `wait_timeout`.',
    `- **TTLs** are ${l.ttlMinS}-${l.ttlMaxS} s (default ${l.ttlDefaultS}); renew every TTL/3.`,
    '- **Errors** are RFC 9457 `application/problem+json` whose `type` is ' +
      '`urn:slotlock:problem:<code>` and whose `code` is stable; 409 and 503 may carry ' +
      '`Retry-After`. A documented path called with another method answers 405 ' +
      '`method_not_allowed` with an `Allow` header. Only operations with a request body read ' +
      'one, so only they answer 413 and 415.',
    '',
    '| code | status | type |',
    '|---|---|---|',
    codes,
  ].join('\n');
}

/** Probes and metrics: always public (`security: []`), whatever authentication is configured. */
function registerHealthPaths(reg: OpenAPIRegistry): void {
  reg.registerPath({
    method: 'get',
    path: '/livez',
    operationId: 'livez',
    tags: ['health'],
    security: [],
    summary: 'The process answers (never asks etcd)',
    responses: {
      200: {
        description: 'Alive',
        content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
      },
    },
  });
  const readiness = z
    .object({
      status: z.enum(['ready', 'starting', 'draining', 'unavailable']),
      etcd: z.object({ revision: z.string() }).optional(),
      detail: z.string().optional(),
    })
    .openapi('Readiness');
  reg.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'readyz',
    tags: ['health'],
    security: [],
    summary: 'etcd answers in time and the replica is not draining',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: readiness } } },
      503: {
        description: 'Starting, draining, or etcd unavailable',
        headers: z.object({ 'Retry-After': retryAfterHeader }),
        content: { 'application/json': { schema: readiness } },
      },
    },
  });
  reg.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tags: ['health'],
    security: [],
    summary: 'Prometheus metrics (slotlock_* and process defaults)',
    responses: {
      200: {
        description: 'Prometheus text exposition format',
        content: { 'text/plain': { schema: z.string() } },
      },
    },
  });
}
