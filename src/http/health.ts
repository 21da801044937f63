import { Router } from 'express';
import type { Services } from '../services.js';

/** /livez (the process answers; never asks etcd), /readyz (etcd answers in time, not draining), /metrics. */
export function healthRouter(s: Services): Router {
  const r = Router();
  r.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    if (s.lifecycle.draining || !s.watch.anchored) {
      res.status(503).setHeader('Retry-After', String(s.config.RETRY_AFTER_S));
      res.json({ status: s.lifecycle.draining ? 'draining' : 'starting' });
      return;
    }
    try {
      const revision = await s.store.revision({
        signal: AbortSignal.timeout(s.config.READINESS_TIMEOUT_MS),
      });
      res.json({ status: 'ready', etcd: { revision } });
    } catch (err) {
      res.status(503).setHeader('Retry-After', String(s.config.RETRY_AFTER_S));
      res.json({ status: 'unavailable', detail: err instanceof Error ? err.message : String(err) });
    }
  });
  r.get('/metrics', async (_req, res) => {
    res.type(s.metrics.registry.contentType).send(await s.metrics.registry.metrics());
  });
  return r;
}
