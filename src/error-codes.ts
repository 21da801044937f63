/**
 * The stable error codes the server puts in problem+json bodies: one list for the server (which
 * maps each to an HTTP status) and the client (which types them). No imports, so the client can
 * use it without pulling in the server.
 */
export const errorCodes = [
  'invalid_input',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'slot_busy',
  'wait_timeout',
  'wait_cancelled',
  'capacity_conflict',
  'not_holder',
  'unauthenticated',
  'forbidden',
  'grant_gone',
  'session_gone',
  'idempotency_conflict',
  'rate_limited',
  'quota_exceeded',
  'storage_quota_exceeded',
  'acquire_in_progress',
  'not_leader',
  'stale_token',
  'etcd_unavailable',
  'etcd_nospace',
  'etcd_restored',
  'draining',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];
