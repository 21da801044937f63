import type { Logger } from 'pino';
import { authConfigured, ConfigError, type Config } from '../config.js';
import { DomainError } from '../domain/errors.js';
import { ApiKeyTable } from './api-keys.js';
import { noAuthentication, type Authenticator, type Credentials } from './authenticator.js';
import { certificateNames } from './client-cert.js';
import { JwtRejected, JwtVerifier } from './jwt.js';
import type { Principal } from './principal.js';
import { WatchedFile } from './watched-file.js';

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The principal of a request without credentials while authentication is on. */
function publicPrincipal(publicReads: boolean): Principal {
  return {
    id: 'anonymous',
    via: 'none',
    authenticated: false,
    permissions: publicReads ? [{ verbs: ['read'], slots: [''], elections: [''] }] : [],
  };
}

/**
 * The authenticator the configuration asks for: API keys (AUTH_API_KEYS_FILE), JWTs
 * (AUTH_JWKS_FILE or AUTH_JWKS_URL) and client certificates (TLS_CLIENT_CA_FILE, principals from
 * the key file's `clients`), or {@link noAuthentication} when none is set. Throws
 * {@link ConfigError} when a configured file cannot be read or parsed at startup.
 */
export function createAuthenticator(config: Config, log: Logger): Authenticator {
  if (!authConfigured(config)) return noAuthentication;
  let table = ApiKeyTable.empty();
  const files: WatchedFile[] = [];
  let jwt: JwtVerifier | undefined;
  try {
    if (config.AUTH_API_KEYS_FILE !== undefined) {
      files.push(
        new WatchedFile(
          config.AUTH_API_KEYS_FILE,
          content => {
            table = ApiKeyTable.parse(content.toString('utf8'));
          },
          log,
        ),
      );
    }
    const jwks =
      config.AUTH_JWKS_FILE !== undefined
        ? { file: config.AUTH_JWKS_FILE }
        : config.AUTH_JWKS_URL !== undefined
          ? { url: config.AUTH_JWKS_URL }
          : undefined;
    if (jwks !== undefined) {
      jwt = new JwtVerifier(
        {
          jwks,
          issuer: config.AUTH_JWT_ISSUER ?? '',
          audience: config.AUTH_JWT_AUDIENCE ?? '',
          clockSkewS: config.AUTH_JWT_CLOCK_SKEW_S,
        },
        log,
      );
    }
  } catch (err) {
    for (const f of files) f.close();
    throw new ConfigError(`authentication: ${err instanceof Error ? err.message : String(err)}`);
  }
  const anonymous = publicPrincipal(config.AUTH_PUBLIC_READS);
  const rejected = (detail: string) => new DomainError('unauthenticated', detail);

  return {
    enabled: true,
    authenticate: async (c: Credentials): Promise<Principal> => {
      if (c.bearer !== undefined) {
        const byKey = table.byKey(c.bearer);
        if (byKey !== undefined) return byKey;
        if (jwt !== undefined && jwtShape.test(c.bearer)) {
          try {
            return await jwt.verify(c.bearer);
          } catch (err) {
            if (err instanceof JwtRejected) {
              log.warn({ reason: err.message }, 'rejected a JWT');
              throw rejected('the bearer token is not a valid JWT for this service');
            }
            throw err;
          }
        }
        throw rejected('the bearer credential is not a known API key or a valid JWT');
      }
      if (c.peerCertificate !== undefined) {
        const names = certificateNames(c.peerCertificate);
        return (
          table.bySubjectNames(names) ?? {
            id: `cert:${names[0] ?? 'unnamed'}`,
            via: 'client-cert',
            authenticated: true,
            permissions: [],
          }
        );
      }
      return anonymous;
    },
    reload: () => {
      for (const f of files) f.check();
      jwt?.reload();
    },
    close: () => {
      for (const f of files) f.close();
      jwt?.close();
    },
  };
}
