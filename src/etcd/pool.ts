/**
 * etcd3 1.1.2's connection pool (internal; the version is pinned in package.json). slotlock opens
 * its own calls through it (watches, and transactions with its own wire codec) so that host
 * choice, per-host circuit breakers, TLS and auth metadata stay exactly etcd3's.
 */
import type { Etcd3 } from 'etcd3';

/** The parts of grpc-js's Metadata we use (etcd3 hands it to us; we do not import grpc-js). */
export interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}

/** What `withConnection` hands to its callback for one host. */
export interface PooledConnection<Client> {
  client: Client;
  metadata: GrpcMetadata;
}

/** The pool's members slotlock relies on. */
export interface ConnectionPool {
  hosts: unknown[];
  authenticator?: { invalidateMetadata?: () => void };
  /** The retry policy etcd3 wraps every unary call in (slotlock configures it in client.ts). */
  globalPolicy: { execute<R>(fn: () => Promise<R>): Promise<R> };
  /** The client's default call options (slotlock sets a deadline for unary calls). */
  callOptionsFactory?:
    ((ctx: { service: string; method: string; isStream: boolean }) => object) | object;
  withConnection<Client, R>(
    service: 'Watch' | 'KV' | 'Lease',
    fn: (conn: PooledConnection<Client>) => R,
    hosts: Generator,
  ): Promise<Awaited<R>>;
  shuffledHosts(): Generator;
}

/** The pool of an etcd3 client, or a loud error when etcd3's internals are not what we pin. */
export function poolOf(client: Etcd3): ConnectionPool {
  const pool = (client as unknown as { pool?: ConnectionPool }).pool;
  if (
    pool === undefined ||
    !Array.isArray(pool.hosts) ||
    typeof pool.withConnection !== 'function' ||
    typeof pool.shuffledHosts !== 'function'
  ) {
    throw new Error('etcd3 internals changed: no connection pool (slotlock pins etcd3 1.1.2)');
  }
  return pool;
}

/**
 * Makes the next call fetch a new auth token. etcd3 does this for unary calls that fail with
 * "invalid auth token" (an expired simple token), but not for watches.
 */
export function forgetAuthToken(client: Etcd3): void {
  poolOf(client).authenticator?.invalidateMetadata?.();
}

/** The number of etcd endpoints the client knows. */
export function hostCount(client: Etcd3): number {
  return poolOf(client).hosts.length;
}
