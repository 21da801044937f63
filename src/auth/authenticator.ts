import type { PeerCertificate } from 'node:tls';
import { anonymousAllowedAll, type Principal } from './principal.js';

/** What a request offers as proof of who it is. */
export interface Credentials {
  /** The token in `Authorization: Bearer <token>`, if any. */
  readonly bearer: string | undefined;
  /** The verified client certificate of an HTTPS connection, if any. */
  readonly peerCertificate: PeerCertificate | undefined;
}

/**
 * Turns credentials into a principal. `enabled` is false when no credential kind is configured:
 * then every request is the anonymous principal with every permission.
 */
export interface Authenticator {
  readonly enabled: boolean;
  /**
   * The principal of `credentials`: a bearer token (API key or JWT) wins over a client
   * certificate; no credential at all gives the public principal. Rejects with an
   * `unauthenticated` DomainError for a credential that does not verify.
   */
  authenticate(credentials: Credentials, opts?: { signal?: AbortSignal }): Promise<Principal>;
  /** Re-reads changed credential files now (SIGHUP); they are also watched. */
  reload(): void;
  /** Stops file watches (API keys, JWKS). */
  close(): void;
}

/** The authenticator of a service without authentication: everyone is `anonymous`, allowed all. */
export const noAuthentication: Authenticator = {
  enabled: false,
  authenticate: () => Promise.resolve(anonymousAllowedAll),
  reload: () => undefined,
  close: () => undefined,
};
