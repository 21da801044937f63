import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

const quietPaths = new Set(['/livez', '/readyz', '/metrics']);
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids and access logs. The id is the incoming `X-Request-Id` when well-formed, else a new
 * UUID; it is echoed in `X-Request-Id` and named in problem `instance`s. One JSON line per request
 * when it ends ("request completed", or "request aborted" when the client left first), at info
 * for successes and expected contention (409, 410), warn for other 4xx, error for 5xx; probes and
 * /metrics are not logged. Costs one listener per request; nothing is built for lines whose level
 * is off (the default LOG_LEVEL=info logs every request).
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id =
      typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', id);
    res.locals.requestId = id;
    res.locals.logger = logger;
    const path = req.path;
    if (!quietPaths.has(path)) {
      const started = performance.now();
      res.once('close', () => {
        const level = levelOf(res.statusCode);
        if (!logger.isLevelEnabled(level)) return;
        logger[level](
          {
            req: { id, method: req.method, url: req.originalUrl },
            res: { statusCode: res.statusCode },
            responseTime: Math.round(performance.now() - started),
          },
          res.writableFinished ? 'request completed' : 'request aborted',
        );
      });
    }
    next();
  };
}

/** A logger bound to the request's id, for errors met while serving it. */
export function requestLogger(req: Request, res: Response): Logger {
  const logger = res.locals.logger as Logger;
  return logger.child({
    req: { id: res.locals.requestId as string, method: req.method, url: req.originalUrl },
  });
}

function levelOf(status: number): 'info' | 'warn' | 'error' {
  if (status >= 500) return 'error';
  if (status === 409 || status === 410 || status < 400) return 'info';
  return 'warn';
}
