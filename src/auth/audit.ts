import type { Request, Response } from 'express';
import { requestLogger } from '../http/request-log.js';
import { principalOf } from './principal.js';

/**
 * Writes one audit line for an administrative action: who (principal id and credential kind),
 * what (action and target), when (ISO time) and the request id. Logged at warn so it survives
 * LOG_LEVEL=warn; every line carries `audit: true` for log routing.
 */
export function auditLog(
  req: Request,
  res: Response,
  action: string,
  target: Record<string, unknown>,
): void {
  const p = principalOf(res);
  requestLogger(req, res).warn(
    {
      audit: true,
      action,
      principal: p.id,
      via: p.via,
      target,
      at: new Date().toISOString(),
      requestId: res.locals.requestId as string,
    },
    `audit: ${p.id} ${action}`,
  );
}
