import express, { type Express } from 'express';
import { authenticate } from './auth/authenticate.js';
import { adminRouter } from './http/admin/routes.js';
import { bundlesRouter } from './http/bundles/routes.js';
import { docsRouter } from './http/docs.js';
import { electionsRouter } from './http/elections/routes.js';
import { fencingRouter } from './http/fencing/routes.js';
import { healthRouter } from './http/health.js';
import { httpMetrics } from './http/http-metrics.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { notFound, problemHandler } from './http/problem.js';
import { countLimitRefusals } from './http/limits/refusal-metrics.js';
import { principalRateLimit, replicaRateLimit } from './http/limits/rate-limits.js';
import { requestLog } from './http/request-log.js';
import { sessionsRouter } from './http/sessions/routes.js';
import { slotsRouter } from './http/slots/routes.js';
import { statusRouter } from './http/status.js';
import type { Services } from './services.js';

/**
 * Builds the Express app: request logging with ids, authentication (the principal of each request
 * in `res.locals.principal`; each route authorizes its verb), rate limits, the routers (hot ones
 * first; each operation that takes a JSON body parses it itself), then 405 for a known path with
 * another method, 404 and the problem+json error handler. It never listens; main.ts and tests do.
 */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(s.log));
  app.use(httpMetrics(s.metrics));
  // The replica's rate limit before authentication (bad credentials count too), the principal's after.
  app.use(replicaRateLimit(s.config));
  app.use(authenticate(s.auth));
  app.use(principalRateLimit(s.config));
  // The hot routes first: each router a request passes on the way costs it a little.
  app.use(slotsRouter(s));
  app.use(bundlesRouter(s));
  app.use(sessionsRouter(s));
  app.use(electionsRouter(s));
  app.use(fencingRouter(s));
  app.use(adminRouter(s));
  app.use(healthRouter(s));
  app.use(docsRouter(s));
  app.use(statusRouter(s));
  app.use(methodNotAllowed(app));
  app.use(notFound);
  app.use(countLimitRefusals(s.metrics));
  app.use(problemHandler);
  return app;
}
