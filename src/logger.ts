import { pino, type Logger } from 'pino';

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
