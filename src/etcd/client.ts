import { readFileSync } from 'node:fs';
import {
  ClientClosedError,
  Etcd3,
  EtcdError,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  type IOptions,
} from 'etcd3';
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  retry,
} from 'cockatiel';
import {
  EtcdError as AdapterError,
  EtcdNoSpaceError,
  EtcdRejectedError,
  EtcdUnavailableError,
} from './errors.js';

/** The etcd client handle the rest of the service passes around (opaque outside src/etcd). */
export type EtcdClient = Etcd3;

/** What the adapter needs to connect: endpoints, optional TLS and auth, and the call deadline. */
export interface EtcdConnectionOptions {
  endpoints: readonly string[];
  callTimeoutMs: number;
  retryAfterS: number;
  username?: string | undefined;
  password?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * Builds the etcd3 client. Every unary call gets a deadline; the library's blind global retries
 * are off (slotlock decides what is safe to retry) and a per-host breaker makes an unreachable
 * etcd fail fast instead of queueing calls.
 */
export function connectEtcd(opts: EtcdConnectionOptions): Etcd3 {
  const options: IOptions = {
    hosts: [...opts.endpoints],
    dialTimeout: opts.callTimeoutMs,
    defaultCallOptions: ctx => (ctx.isStream ? {} : { deadline: Date.now() + opts.callTimeoutMs }),
    faultHandling: {
      // Retry only calls that provably never reached etcd (no connection, or the host's breaker
      // is open), on another member: safe even for writes. A deadline that passed is not retried:
      // that call may have been applied.
      global: retry(handleWhen(neverReachedEtcd), { maxAttempts: 2 }),
      host: () =>
        circuitBreaker(handleWhen(isUnavailable), {
          halfOpenAfter: 2000,
          breaker: new ConsecutiveBreaker(3),
        }),
      watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1000 }).next(),
    },
    grpcOptions: {
      'grpc.keepalive_time_ms': 5000,
      'grpc.keepalive_timeout_ms': 2000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    },
  };
  if (opts.username !== undefined && opts.password !== undefined) {
    options.auth = { username: opts.username, password: opts.password };
  }
  if (opts.caFile !== undefined) {
    options.credentials = {
      rootCertificate: readFileSync(opts.caFile),
      ...(opts.certFile === undefined ? {} : { certChain: readFileSync(opts.certFile) }),
      ...(opts.keyFile === undefined ? {} : { privateKey: readFileSync(opts.keyFile) }),
    };
  }
  return new Etcd3(options);
}

const unavailableMessages = [
  'no leader',
  'request timed out',
  'leader changed',
  'too many requests',
  'not capable',
  'timed out',
  'connection',
  'unavailable',
];

/** True for errors meaning "etcd could not be reached or could not commit in time". */
export function isUnavailable(err: unknown): boolean {
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof BrokenCircuitError ||
    err instanceof ClientClosedError
  ) {
    return true;
  }
  // Errors from streams reach us uncast, with the gRPC status code: 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED.
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 14 || code === 4) return true;
  if (err instanceof EtcdError || (err instanceof Error && err.name.startsWith('GRPC'))) {
    const message = err.message.toLowerCase();
    return unavailableMessages.some(m => message.includes(m));
  }
  return false;
}

/** True for failures of a call that was never sent to etcd, so retrying it elsewhere is safe. */
export function neverReachedEtcd(err: unknown): boolean {
  if (err instanceof BrokenCircuitError) return true;
  const message = err instanceof Error ? err.message : '';
  return message.includes('No connection established');
}

/** True when etcd said the lease does not exist (expired or revoked). */
export function isLeaseNotFound(err: unknown): boolean {
  return err instanceof EtcdLeaseInvalidError;
}

/**
 * True when etcd refused a transaction because a lease it puts a key on does not exist (it
 * expired or was revoked): nothing of the transaction was applied.
 */
export function isLeaseGone(err: unknown): boolean {
  return err instanceof EtcdRejectedError && isLeaseNotFound(err.cause);
}

/** True when etcd refused a write because its NOSPACE alarm is raised (database space exceeded). */
export function isNoSpace(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return message.includes('database space exceeded') || message.includes('NOSPACE');
}

/**
 * Whether etcd refused slotlock's own credentials: `authentication` (a wrong ETCD_USERNAME or
 * ETCD_PASSWORD, or none while etcd has auth enabled) or `permission` (the user's role does not
 * cover what slotlock touched, e.g. a role granted on another prefix than ETCD_PREFIX).
 */
export function credentialProblem(err: unknown): 'authentication' | 'permission' | undefined {
  if (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdInvalidAuthTokenError ||
    err instanceof GRPCUnauthenticatedError
  ) {
    return 'authentication';
  }
  if (err instanceof EtcdPermissionDeniedError) return 'permission';
  // Errors from streams reach us uncast, with the gRPC status: 16 UNAUTHENTICATED, 7 PERMISSION_DENIED.
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err instanceof Error ? err.message : '').toLowerCase();
  if (
    code === 16 ||
    message.includes('authentication failed') ||
    message.includes('user name is empty')
  ) {
    return 'authentication';
  }
  if (code === 7 || message.includes('permission denied')) return 'permission';
  return undefined;
}

/**
 * Turns any etcd/gRPC error into an adapter error; adapter errors pass through unchanged. With
 * `mayHaveApplied` (a write that was sent), a timeout or a dropped connection means the outcome
 * is unknown: etcd may have committed it and only the answer was lost.
 */
export function translateEtcdError(
  err: unknown,
  op: string,
  retryAfterS: number,
  mayHaveApplied = false,
): AdapterError {
  if (err instanceof AdapterError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const refused = credentialProblem(err);
  if (refused !== undefined) {
    // A misconfiguration, not a bug: unavailable (503, readiness false) with what to fix.
    return new EtcdUnavailableError(
      refused === 'authentication'
        ? `etcd refused slotlock's credentials for ${op}: check ETCD_USERNAME/ETCD_PASSWORD (${message}); nothing was applied`
        : `etcd denied ${op} (permission denied): the role of ETCD_USERNAME must allow read and write on every key under ETCD_PREFIX (${message}); nothing was applied`,
      retryAfterS,
      err,
    );
  }
  if (isNoSpace(err)) {
    return new EtcdNoSpaceError(
      `etcd is out of space (NOSPACE alarm) and refuses writes; ${op} was not applied (${message})`,
      retryAfterS,
      err,
    );
  }
  if (isUnavailable(err)) {
    const unknown = mayHaveApplied && !neverReachedEtcd(err);
    return new EtcdUnavailableError(
      unknown
        ? `etcd did not answer ${op} in time (${message}); outcome unknown: it may have been ` +
            'applied, so retry with the same Idempotency-Key'
        : `etcd did not answer ${op} in time or is unreachable (${message}); nothing was granted`,
      retryAfterS,
      err,
      unknown,
    );
  }
  return new EtcdRejectedError(`etcd rejected ${op}: ${message}`, err);
}
