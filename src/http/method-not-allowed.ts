import type { Express, RequestHandler } from 'express';
import { DomainError } from '../domain/errors.js';

/** The parts of Express's router layers this reads (router 2.x: `match` has no side effects). */
interface Layer {
  route?: { methods: Record<string, boolean | undefined> };
  handle?: { stack?: unknown };
  match(path: string): unknown;
}

/**
 * For a request no route answered: when its path is a known route with other methods, a 405
 * `method_not_allowed` problem with an `Allow` header (RFC 9110) instead of a 404. Mount it after
 * every router and before the 404 handler; it walks the app's routes only for such requests.
 */
export function methodNotAllowed(app: Express): RequestHandler {
  return (req, res, next) => {
    const root = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const allowed = allowedMethods(root, req.path);
    if (allowed.size === 0) {
      next();
      return;
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    throw new DomainError(
      'method_not_allowed',
      `${req.method} is not allowed on ${req.path}; use ${allow}`,
    );
  };
}

/** The methods of every route (in nested routers too) whose path matches `path`. */
function allowedMethods(stack: Layer[], path: string): Set<string> {
  const out = new Set<string>();
  for (const layer of stack) {
    const nested = layer.handle?.stack;
    if (layer.route === undefined) {
      if (Array.isArray(nested)) {
        for (const m of allowedMethods(nested as Layer[], path)) out.add(m);
      }
      continue;
    }
    let matched: unknown = false;
    try {
      matched = layer.match(path);
    } catch {
      // A malformed percent-encoding: not this layer's concern here.
    }
    if (matched === false) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (on === true && method !== '_all') out.add(method.toUpperCase());
    }
  }
  return out;
}
