import { Router } from 'express';
import type { Services } from '../services.js';

/**
 * /livez (the process answers; never asks etcd), /readyz (etcd answers in time, has no NOSPACE
 * alarm raised, not draining), /metrics.
 */
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
      const signal = AbortSignal.timeout(s.config.READINESS_TIMEOUT_MS);
      const [revision, alarms] = await Promise.all([
        s.store.revision({ signal }),
        s.store.alarms({ signal }),
      ]);
      if (alarms.includes('NOSPACE')) {
        // etcd refuses every write until an operator compacts, defragments and disarms it.
        res.status(503).setHeader('Retry-After', String(s.config.RETRY_AFTER_S));
        res.json({ status: 'etcd_nospace', etcd: { revision, alarms } });
        return;
      }
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
