import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { ErrorCode } from '../domain/errors.js';
import { problemType, statusOf } from './problem.js';
import { problem } from './schemas.js';

/**
 * Codes any /v1 operation can answer: bad params, missing or short credentials, a rate limit,
 * etcd (unreachable, out of space, restored from a snapshot), a bug.
 */
export const commonCodes = [
  'invalid_input',
  'unauthenticated',
  'forbidden',
  'rate_limited',
  'etcd_unavailable',
  'etcd_nospace',
  'etcd_restored',
  'draining',
  'internal',
] as const satisfies readonly ErrorCode[];

/** Extra codes of operations that read a JSON body (express.json and requireJson). */
export const bodyCodes = [
  'payload_too_large',
  'unsupported_media_type',
] as const satisfies readonly ErrorCode[];

/**
 * Codes whose problems may come with `Retry-After` (and `retryAfterSeconds`): contention,
 * an in-flight duplicate, etcd trouble and draining. Documentation only; the domain sets it.
 */
const mayRetryAfter: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'slot_busy',
  'wait_timeout',
  'acquire_in_progress',
  'not_leader',
  'rate_limited',
  'etcd_unavailable',
  'etcd_nospace',
  'etcd_restored',
  'draining',
]);

export const retryAfterHeader = z.string().optional().openapi({
  description: 'Seconds to wait before retrying (RFC 9110 delay-seconds)',
  example: '1',
});

/**
 * The `application/problem+json` responses of an operation that can fail with `codes`, one per
 * HTTP status (from the same `statusOf` table the problem handler uses). Each narrows the shared
 * Problem schema to the codes and `urn:slotlock:problem:<code>` types it can carry.
 */
export function problemResponses(codes: readonly ErrorCode[]): Record<string, ResponseConfig> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = statusOf[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, group] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = problemResponse(group);
  }
  return responses;
}

function problemResponse(codes: ErrorCode[]): ResponseConfig {
  const [first, ...rest] = codes;
  if (first === undefined) throw new Error('a problem response needs at least one code');
  const types = [first, ...rest].map(problemType);
  const schema = problem.extend({
    type: z.enum(types as [string, ...string[]]),
    code: z.enum([first, ...rest]),
  });
  const retry = codes.some(c => mayRetryAfter.has(c));
  return {
    description: `Problem (RFC 9457) with \`code\` ${codes.map(c => `\`${c}\``).join(', ')}`,
    ...(retry ? { headers: z.object({ 'Retry-After': retryAfterHeader }) } : {}),
    content: { 'application/problem+json': { schema } },
  };
}
