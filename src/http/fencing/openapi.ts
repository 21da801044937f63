import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { FENCED_VALUE_MAX_BYTES, recordName, resourceLabel } from './routes.js';
import { bodyCodes, commonCodes, problemResponses } from '../openapi-problems.js';
import { fencingToken, slotName } from '../schemas.js';

// fencing.ts keeps its params and body schemas private; these are built from the same exported
// field schemas (slotName, recordName, fencingToken, resourceLabel) and only document them.
const recordParams = z.object({
  slot: slotName,
  record: recordName.openapi({
    description: 'Record name: one path segment of 1-128 [A-Za-z0-9._:-]',
    example: 'dispatch-cursor',
  }),
});
const slotParams = z.object({ slot: slotName });
const revision = z.string().openapi({ description: 'etcd revision of the write (decimal string)' });

/** Documentation schema (see above); exported for the spec's conformance test. */
export const fencedWriteRequest = z
  .strictObject({
    token: fencingToken.openapi({ description: 'Fencing token of the writer grant' }),
    value: z.string().openapi({
      description: `The record value, at most ${FENCED_VALUE_MAX_BYTES} bytes of UTF-8`,
    }),
    ttlSeconds: z.number().int().min(1).optional().openapi({
      description:
        'Seconds until the record expires (at most FENCED_TTL_MAX_S); absent: kept until deleted',
    }),
  })
  .openapi('FencedWriteRequest');

/** Documentation schema (see above); exported for the spec's conformance test. */
export const fencedWrite = z
  .object({
    slot: slotName,
    record: recordName,
    token: fencingToken,
    applied: z.literal(true),
    revision,
    ttlSeconds: z.number().int().optional().openapi({ description: 'The TTL, when one was set' }),
  })
  .openapi('FencedWrite');

/** Documentation schema (see above); exported for the spec's conformance test. */
export const fencedRecord = z
  .object({
    slot: slotName,
    record: recordName,
    value: z.string(),
    token: fencingToken.openapi({ description: 'The token that last wrote the record' }),
    revision: z.string().openapi({ description: 'etcd mod revision of the record' }),
  })
  .openapi('FencedRecord');

/** Documentation schema (see above); exported for the spec's conformance test. */
export const staleReportRequest = z
  .strictObject({
    token: fencingToken.openapi({ description: 'The token the rejected write carried' }),
    highestSeen: fencingToken.openapi({
      description: 'The highest token the resource had already accepted (not below token)',
    }),
    resource: resourceLabel.openapi({
      description: 'Short label of the resource (logged, never a metric label)',
      example: 'orders-db',
    }),
  })
  .openapi('StaleReportRequest');

/** Documentation schema (see above); exported for the spec's conformance test. */
// One flat object: an allOf of the closed request and an extension could never validate.
export const staleReport = z
  .object({ slot: slotName, ...staleReportRequest.shape, revision })
  .openapi('StaleReport');

/** Registers the fencing operations: fenced records in etcd and stale-token reports. */
export function registerFencingPaths(reg: OpenAPIRegistry): void {
  reg.registerPath({
    method: 'put',
    path: '/v1/slots/{slot}/fenced/{record}',
    operationId: 'writeFenced',
    tags: ['fencing'],
    summary: 'Write a fenced record (only a live holder with a token not below the last writer)',
    description:
      'One etcd transaction checks that the writer grant still exists at {token} and that no ' +
      'higher token wrote the record, so a holder paused past its lease cannot overwrite a newer ' +
      "holder's work. A rejected write (409 stale_token, with winningToken) changes nothing.",
    security: [{ holderSecret: [] }],
    request: {
      params: recordParams,
      body: { required: true, content: { 'application/json': { schema: fencedWriteRequest } } },
    },
    responses: {
      200: { description: 'Written', content: { 'application/json': { schema: fencedWrite } } },
      ...problemResponses([
        ...commonCodes,
        ...bodyCodes,
        'not_holder',
        'grant_gone',
        'stale_token',
        'acquire_in_progress',
        'storage_quota_exceeded',
      ]),
    },
  });

  reg.registerPath({
    method: 'delete',
    path: '/v1/slots/{slot}/fenced/{record}',
    operationId: 'deleteFenced',
    tags: ['fencing'],
    summary: 'Delete a fenced record (same checks as a write)',
    description:
      'Deletes the record and its storage-ledger entries in one transaction, only while the ' +
      'grant {token} still holds and no higher token wrote the record (409 stale_token).',
    security: [{ holderSecret: [] }],
    request: {
      params: recordParams,
      query: z.object({
        token: fencingToken.openapi({ description: 'Fencing token of the deleting grant' }),
      }),
    },
    responses: {
      204: { description: 'Deleted' },
      ...problemResponses([
        ...commonCodes,
        'not_found',
        'not_holder',
        'grant_gone',
        'stale_token',
        'acquire_in_progress',
      ]),
    },
  });

  reg.registerPath({
    method: 'get',
    path: '/v1/slots/{slot}/fenced/{record}',
    operationId: 'readFenced',
    tags: ['fencing'],
    summary: 'Read a fenced record (linearizable)',
    request: { params: recordParams },
    responses: {
      200: { description: 'The record', content: { 'application/json': { schema: fencedRecord } } },
      ...problemResponses([...commonCodes, 'not_found']),
    },
  });

  reg.registerPath({
    method: 'post',
    path: '/v1/slots/{slot}/stale-reports',
    operationId: 'reportStaleToken',
    tags: ['fencing'],
    summary: 'Report that a resource outside etcd rejected a stale token',
    description:
      'Counted in slotlock_fencing_stale_tokens_total{source="report"} and logged, so stale ' +
      'writes at resources that fence themselves show up on the dashboards.',
    request: {
      params: slotParams,
      body: { required: true, content: { 'application/json': { schema: staleReportRequest } } },
    },
    responses: {
      202: { description: 'Recorded', content: { 'application/json': { schema: staleReport } } },
      ...problemResponses([...commonCodes, ...bodyCodes]),
    },
  });
}
