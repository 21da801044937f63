/**
 * The stable error codes the slotlock server puts in problem+json bodies. The client keeps its own
 * copy (it imports nothing from the server); a test in the server's repository asserts that this
 * list equals the server's, so the two cannot drift apart.
 */
export const serverErrorCodes = [
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

/** A stable code of the server. */
export type ServerErrorCode = (typeof serverErrorCodes)[number];
