import type { Response } from 'express';

/** What a principal may do, on slot and election name prefixes. */
export const verbs = ['acquire', 'read', 'elect', 'fenced-write', 'admin'] as const;

/**
 * A verb: `acquire` (acquire, keepalive and release of grants and sessions whose secret you hold,
 * queue position and withdrawal), `read` (inspect, list, token checks, leader, observe, fenced
 * reads), `elect` (campaign, keepalive, proclaim, resign), `fenced-write` (fenced writes and
 * stale-token reports), `admin` (force-release a grant, end a leadership).
 */
export type Verb = (typeof verbs)[number];

/** One rule: these verbs on slots and elections whose names start with one of the prefixes. */
export interface Permission {
  readonly verbs: readonly Verb[];
  /** Slot name prefixes (`""` = every slot). Absent: no slot. */
  readonly slots?: readonly string[] | undefined;
  /** Election name prefixes (`""` = every election). Absent: no election. */
  readonly elections?: readonly string[] | undefined;
}

/** How a request proved who it is. */
export type CredentialKind = 'none' | 'api-key' | 'jwt' | 'client-cert';

/**
 * Who sent a request. `id` is stable across requests of the same caller (quotas, rate limits,
 * audit lines and Idempotency-Key binding use it); `authenticated` is false for the caller without
 * credentials (`id` "anonymous"), whose permissions are everything while no authentication is
 * configured, and only what is configured as public otherwise.
 */
export interface Principal {
  readonly id: string;
  readonly via: CredentialKind;
  readonly authenticated: boolean;
  readonly permissions: readonly Permission[];
}

/** Every verb on every name: the anonymous caller of a service without authentication. */
export const everything: readonly Permission[] = [{ verbs, slots: [''], elections: [''] }];

/** The caller of a service that has no authentication configured. */
export const anonymousAllowedAll: Principal = {
  id: 'anonymous',
  via: 'none',
  authenticated: false,
  permissions: everything,
};

/** What the authentication middleware leaves in `res.locals.auth`. */
export interface AuthContext {
  readonly principal: Principal;
  /** True when the server has some authentication configured (no `Authorization` secret fallback). */
  readonly enforced: boolean;
}

/** The request's auth context; a request the middleware did not see counts as auth off. */
export function authContextOf(res: Response): AuthContext {
  const ctx = (res.locals as { auth?: AuthContext }).auth;
  return ctx ?? { principal: anonymousAllowedAll, enforced: false };
}

/** The principal of a request (set early by the authentication middleware). */
export function principalOf(res: Response): Principal {
  return authContextOf(res).principal;
}

/** Records the auth context of a request; also exposed as `res.locals.principal`. */
export function setAuthContext(res: Response, ctx: AuthContext): void {
  const locals = res.locals as { auth?: AuthContext; principal?: Principal };
  locals.auth = ctx;
  locals.principal = ctx.principal;
}
