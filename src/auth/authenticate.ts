import type { RequestHandler } from 'express';
import type { TLSSocket } from 'node:tls';
import { DomainError } from '../domain/errors.js';
import type { Authenticator } from './authenticator.js';
import { anonymousAllowedAll, setAuthContext } from './principal.js';

const bearerPattern = /^Bearer +(\S{1,8192})\s*$/i;

/**
 * The authentication middleware (early in the app, before every router): resolves the caller's
 * principal from `Authorization: Bearer` or the verified client certificate and records it in
 * `res.locals.auth` / `res.locals.principal` (read it with `principalOf(res)`). A credential that
 * does not verify is a 401 here; a request without one proceeds as the public principal, and each
 * route decides (via `authorize`) whether that is enough.
 */
export function authenticate(auth: Authenticator): RequestHandler {
  if (!auth.enabled) {
    return (_req, res, next) => {
      setAuthContext(res, { principal: anonymousAllowedAll, enforced: false });
      next();
    };
  }
  return async (req, res, next) => {
    const header = req.headers.authorization;
    let bearer: string | undefined;
    if (header !== undefined) {
      bearer = bearerPattern.exec(header)?.[1];
      if (bearer === undefined) {
        throw new DomainError(
          'unauthenticated',
          'send your credential as "Authorization: Bearer <API key or JWT>"',
        );
      }
    }
    const socket = req.socket as Partial<TLSSocket>;
    const peerCertificate =
      socket.authorized === true && typeof socket.getPeerCertificate === 'function'
        ? socket.getPeerCertificate()
        : undefined;
    const principal = await auth.authenticate({ bearer, peerCertificate });
    setAuthContext(res, { principal, enforced: true });
    next();
  };
}
