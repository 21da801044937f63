import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { pinoHttp, type Options } from 'pino-http';

const quietPaths = new Set(['/livez', '/readyz', '/metrics']);
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The root logger: JSON lines with service and version; secrets redacted. */
export function createLogger(level: string, version: string): Logger {
  return pino({
    level,
    base: { service: 'slotlock', version },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["idempotency-key"]',
        'secret',
        'session',
        '*.secret',
        '*.session',
      ],
      censor: '[redacted]',
    },
  });
}

/**
 * pino-http options: a request id from `x-request-id` (when well-formed) or a new UUID, echoed in
 * `X-Request-Id`; probes and /metrics are not logged; expected contention (409) logs at info.
 */
export function httpLoggerOptions(logger: Logger): Options {
  return {
    logger,
    genReqId: (req, res) => {
      const incoming = req.headers['x-request-id'];
      const id =
        typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    autoLogging: { ignore: req => quietPaths.has((req.url ?? '').split('?')[0] ?? '') },
    customLogLevel: (_req, res, err) => {
      if (err !== undefined || res.statusCode >= 500) return 'error';
      if (res.statusCode === 409 || res.statusCode === 410) return 'info';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
      }),
    },
  };
}

/** The pino-http middleware. */
export function httpLogger(logger: Logger) {
  return pinoHttp(httpLoggerOptions(logger));
}
