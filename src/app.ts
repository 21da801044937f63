import express, { type Express } from 'express';
import { authenticate } from './auth/authenticate.js';
import { docsRouter } from './http/docs.js';
import { electionsRouter } from './http/elections/routes.js';
import { fencingRouter, isFencedWrite } from './http/fencing/routes.js';
import { healthRouter } from './http/health.js';
import { jsonBody } from './http/json-body.js';
import { notFound, problemHandler } from './http/problem.js';
import { requestLog } from './http/request-log.js';
import { sessionsRouter } from './http/sessions/routes.js';
import { slotsRouter } from './http/slots/routes.js';
import { statusRouter } from './http/status.js';
import type { Services } from './services.js';

/**
 * Builds the Express app: request logging with ids, JSON bodies up to 16 KiB (fenced writes: their
 * own limit), the routers (hot ones first), then
 * 404 and the problem+json error handler. It never listens; main.ts and tests do.
 */
export function createApp(s: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(s.log));
  app.use(authenticate(s.auth));
  app.use(jsonBody({ limitBytes: 16 * 1024, limitText: '16 KiB', except: isFencedWrite }));
  // The hot routes first: each router a request passes on the way costs it a little.
  app.use(slotsRouter(s));
  app.use(sessionsRouter(s));
  app.use(electionsRouter(s));
  app.use(fencingRouter(s));
  app.use(healthRouter(s));
  app.use(docsRouter(s));
  app.use(statusRouter(s));
  app.use(notFound);
  app.use(problemHandler);
  return app;
}
