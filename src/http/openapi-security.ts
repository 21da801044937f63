import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';

/** The part of the generated document this module touches. */
interface SecuredDocument {
  paths?: object | undefined;
}

const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * Registers the security schemes: `callerAuth` (the caller's own API key or JWT in
 * `Authorization: Bearer`), and `holderSecret` / `sessionToken` (the secret of a grant,
 * leadership or session in the `Slotlock-Secret` header).
 */
export function registerSecuritySchemes(reg: OpenAPIRegistry): void {
  reg.registerComponent('securitySchemes', 'callerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'API key or JWT',
    description:
      "The caller's credential: an API key from the server's key file, or a JWT from the " +
      'configured identity provider. Not needed while the server has no authentication ' +
      'configured (loopback only), nor for reads or token checks configured as public.',
  });
  reg.registerComponent('securitySchemes', 'holderSecret', {
    type: 'apiKey',
    in: 'header',
    name: 'Slotlock-Secret',
    description:
      'The `secret` returned with a grant (slots) or a leadership (elections), in ' +
      '`Slotlock-Secret: <secret>` (a leading "Bearer " is tolerated). It proves you hold ' +
      'that grant; it is not a fencing token. While no authentication is configured, ' +
      '`Authorization: Bearer <secret>` is accepted too (old clients).',
  });
  reg.registerComponent('securitySchemes', 'sessionToken', {
    type: 'apiKey',
    in: 'header',
    name: 'Slotlock-Secret',
    description: 'The `session` token "<id>.<secret>" returned by POST /v1/sessions',
  });
}

/**
 * Adds the caller's credential to every /v1 operation: an operation that needs a holder secret
 * needs it together with `callerAuth` (or alone while authentication is off); any other one
 * needs `callerAuth`, or nothing while authentication is off or the read is public.
 */
export function requireCallerAuth(doc: SecuredDocument): void {
  const paths = (doc.paths ?? {}) as Record<string, Partial<Record<string, unknown>> | undefined>;
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith('/v1/') || item === undefined) continue;
    for (const method of methods) {
      const op = item[method] as { security?: Record<string, string[]>[] } | undefined;
      if (op === undefined) continue;
      const own = op.security ?? [];
      op.security =
        own.length === 0
          ? [{ callerAuth: [] }, {}]
          : [...own.map(r => ({ callerAuth: [], ...r })), ...own];
    }
  }
}
