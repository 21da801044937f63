import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../metrics.js';

/** The `route` label of requests no route matched (404s, probes of unknown paths). */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Counts every HTTP request and times it (`slotlock_http_requests_total`,
 * `slotlock_http_request_duration_seconds`) by route TEMPLATE (`/v1/slots/:slot/grants`, never
 * the raw path, so slot names never become labels), method and status class. A request whose
 * client left before any response was sent is `status_class="aborted"`: not a 5xx, since the
 * service did not fail it. The availability SLI is the share of requests without a 5xx.
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  const seen = new Set<string>();
  return (req, res, next) => {
    const started = performance.now();
    res.once('close', () => {
      const route = routeOf(req);
      const method = METHODS.has(req.method) ? req.method : 'other';
      // A route's 5xx series exists from its first request on, so a rate over it sees its first
      // failure (Prometheus cannot rate a series born between two scrapes).
      if (!seen.has(`${method} ${route}`)) {
        seen.add(`${method} ${route}`);
        for (const c of ['2xx', '4xx', '5xx']) {
          metrics.httpRequests.inc({ route, method, status_class: c }, 0);
        }
      }
      const labels = {
        route,
        method,
        status_class: res.headersSent ? `${Math.floor(res.statusCode / 100)}xx` : 'aborted',
      };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}

/**
 * The matched route's template with its router's mount path; for a request answered by mounted
 * middleware (the API docs' static files) its mount path and `/*`; else {@link UNMATCHED_ROUTE}.
 */
export function routeOf(req: Request): string {
  const { route } = req as { route?: { path?: unknown } };
  const path = route?.path;
  if (typeof path === 'string') return req.baseUrl + path;
  return req.baseUrl === '' ? UNMATCHED_ROUTE : `${req.baseUrl}/*`;
}
