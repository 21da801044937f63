import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from 'pino';
import { permissionsSchema } from './permissions.js';
import type { Principal } from './principal.js';
import { WatchedFile } from './watched-file.js';

/** The JWT claim whose value lists the principal's permissions (same shape as the key file). */
export const PERMISSIONS_CLAIM = 'slotlock_permissions';

/** Where the verification keys come from, and what a token must say. */
export interface JwtOptions {
  /** A JWKS JSON file (reloaded on change) or an https:// URL (fetched and cached by jose). */
  readonly jwks: { readonly file: string } | { readonly url: string };
  readonly issuer: string;
  readonly audience: string;
  readonly clockSkewS: number;
}

/** The signature algorithms accepted: asymmetric only (never `none`, never a shared HMAC key). */
const asymmetric = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Why a token was refused (logged; the 401 detail stays generic). */
export class JwtRejected extends Error {
  override readonly name = 'JwtRejected';
}

/**
 * Verifies JWTs with `jose`: signature against the JWKS, `iss`, `aud`, `exp` (required) and `nbf`
 * with `clockSkewS` of tolerance. The principal id is `jwt:<sub>`; its permissions come from the
 * `slotlock_permissions` claim (missing: none, so every action is 403).
 */
export class JwtVerifier {
  private keys: JWTVerifyGetKey;
  private readonly file: WatchedFile | undefined;

  constructor(
    private readonly opts: JwtOptions,
    log: Logger,
  ) {
    if ('file' in opts.jwks) {
      let loaded: JWTVerifyGetKey | undefined;
      this.file = new WatchedFile(
        opts.jwks.file,
        content => {
          const set = createLocalJWKSet(JSON.parse(content.toString('utf8')) as JSONWebKeySet);
          loaded = set;
          this.keys = set;
        },
        log,
      );
      if (loaded === undefined) throw new Error(`no JWKS in ${opts.jwks.file}`);
      this.keys = loaded;
    } else {
      this.keys = createRemoteJWKSet(new URL(opts.jwks.url), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
      });
    }
  }

  /** The principal of a valid token; throws {@link JwtRejected} otherwise. */
  async verify(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: this.opts.clockSkewS,
        algorithms: asymmetric,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      const reason =
        err instanceof joseErrors.JOSEError ? `${err.code}: ${err.message}` : String(err);
      throw new JwtRejected(reason, { cause: err });
    }
    const claimed = permissionsSchema.safeParse(payload[PERMISSIONS_CLAIM] ?? []);
    if (!claimed.success) {
      throw new JwtRejected(`the ${PERMISSIONS_CLAIM} claim is not a list of permissions`);
    }
    return {
      id: `jwt:${payload.sub ?? ''}`,
      via: 'jwt',
      authenticated: true,
      permissions: claimed.data,
    };
  }

  /** Re-reads a JWKS file if it changed (SIGHUP). */
  reload(): void {
    this.file?.check();
  }

  /** Stops watching the JWKS file. */
  close(): void {
    this.file?.close();
  }
}
