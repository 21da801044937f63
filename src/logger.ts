import { pino, type Logger } from 'pino';

/**
 * The root logger: JSON lines with service, version and `base` (main.ts adds the replica id and
 * commit); secrets redacted.
 */
export function createLogger(
  level: string,
  version: string,
  base: Record<string, string> = {},
): Logger {
  return pino({
    level,
    base: { service: 'slotlock', version, ...base },
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
