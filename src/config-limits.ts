import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The settings of quotas, rate limits, HTTP server limits and keyspace retention (documented in
 * docs/security.md, "Quotas and limits"). Spread into the config schema; a quota or rate of 0
 * switches that limit off.
 */
export const limitsConfigShape = {
  // Per-principal quotas (across replicas where the thing lives in etcd).
  QUOTA_GRANTS: int(0, 10_000_000).default(20_000),
  QUOTA_WAITERS: int(0, 1_000_000).default(5000),
  QUOTA_SESSIONS: int(0, 1_000_000).default(1000),
  QUOTA_ELECTIONS: int(0, 1_000_000).default(100),
  QUOTA_FENCED_RECORDS: int(0, 1_000_000).default(1000),
  QUOTA_FENCED_BYTES: int(0, 1 << 30).default(16 * 1024 * 1024),
  FENCED_SLOT_RECORDS_MAX: int(1, 100_000).default(100),
  FENCED_SLOT_BYTES_MAX: int(1024, 1 << 30).default(1024 * 1024),
  FENCED_TTL_MAX_S: int(1, 31_536_000).default(30 * 86_400),
  // Request rate limits (fixed windows, in memory on each replica).
  RATE_LIMIT_WINDOW_S: int(1, 3600).default(1),
  RATE_LIMIT_PRINCIPAL: int(0, 10_000_000).default(5000),
  RATE_LIMIT_REPLICA: int(0, 10_000_000).default(20_000),
  // The HTTP server (slowloris, huge bodies, connection floods).
  HTTP_MAX_CONNECTIONS: int(0, 1_000_000).default(4096),
  HTTP_HEADERS_TIMEOUT_MS: int(100, 120_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(100, 600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000).default(5000),
  // How long the release marker of an idle slot or election outlives its last release.
  RELEASE_MARKER_RETENTION_S: int(2, 31_536_000).default(86_400),
};

/** The fenced-record storage limits of a configuration. */
export function fencedLimitsOf(c: {
  QUOTA_FENCED_RECORDS: number;
  QUOTA_FENCED_BYTES: number;
  FENCED_SLOT_RECORDS_MAX: number;
  FENCED_SLOT_BYTES_MAX: number;
}) {
  return {
    principalRecords: c.QUOTA_FENCED_RECORDS,
    principalBytes: c.QUOTA_FENCED_BYTES,
    slotRecords: c.FENCED_SLOT_RECORDS_MAX,
    slotBytes: c.FENCED_SLOT_BYTES_MAX,
  };
}
