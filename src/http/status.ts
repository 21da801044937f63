import { Router, type Response } from 'express';
import { authorize } from '../auth/authorize.js';
import { asDomainError } from '../domain/errors.js';
import type { Services } from '../services.js';
import { statusPageHtml } from './status-page/html.js';
import { buildInfo, replicaId } from '../build-info.js';
import { readElections, readSlots, type Overview } from './status-page/overview.js';
import { statusPageScript } from './status-page/script.js';
import { SliTracker, type SliReport } from './status-page/slis.js';
import { statusPageStyle } from './status-page/style.js';
import { requestSignal } from './request.js';

/** At most this many slots and this many elections are listed in one status report. */
export const STATUS_LIMIT = 100;

/** What `GET /v1/status` answers: everything the status page shows, in one call. */
export interface StatusReport extends Partial<Overview> {
  generatedAt: string;
  /** `ok: false` when etcd could not be read; `slots` and `elections` are then absent. */
  etcd: { ok: true } | { ok: false; detail: string };
  /** Which replica answered, and what it runs. */
  replica: { id: string; version: string; commit: string };
  /** Parts that could not be read for another reason (logged); the rest is still shown. */
  unavailable?: ('slots' | 'elections')[];
  slis: SliReport;
  /** A reminder that the SLIs are one replica's in-process approximations. */
  note: string;
}

const NOTE =
  'In-process approximations: these SLIs are computed by this replica from its own metrics. ' +
  '"Since start" is cumulative since the process started; "recent" covers the window shown ' +
  '(at most 5 min, from snapshots taken when this report is read). The Prometheus recording ' +
  'rules are the real SLIs: they aggregate every replica over fixed windows.';

// The page runs only its own script and style, so a holder label can never become markup.
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The live status page at `/` (HTML, its script and style, no external assets) and the JSON
 * it polls, `GET /v1/status`: slots with holders and waiters, election leaders, and the SLIs.
 */
export function statusRouter(s: Services): Router {
  const r = Router();
  const slis = new SliTracker(s.metrics);
  const replica = { id: replicaId(s.config.REPLICA_ID), ...buildInfo() };

  r.get('/', (_req, res) => {
    // Before send(): a header set after it never reaches the browser.
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    asset(res, 'text/html; charset=utf-8', statusPageHtml);
  });
  r.get('/status/app.js', (_req, res) => {
    asset(res, 'text/javascript; charset=utf-8', statusPageScript);
  });
  r.get('/status/style.css', (_req, res) => {
    asset(res, 'text/css; charset=utf-8', statusPageStyle);
  });

  r.get('/v1/status', async (_req, res) => {
    // It names every holder and leader: a read of everything.
    authorize(res, 'read', { slotPrefix: '' });
    const signal = requestSignal(res, s.lifecycle);
    const report: StatusReport = {
      generatedAt: new Date().toISOString(),
      etcd: { ok: true },
      replica,
      slis: await slis.report(),
      note: NOTE,
    };
    // Each part on its own: one failed read leaves the other part (and the SLIs) on the page.
    const opts = { limit: STATUS_LIMIT, signal };
    const [slots, elections] = await Promise.allSettled([
      readSlots(s, opts),
      readElections(s, opts),
    ]);
    if (slots.status === 'fulfilled') report.slots = slots.value;
    if (elections.status === 'fulfilled') report.elections = elections.value;
    for (const [part, result] of [
      ['slots', slots],
      ['elections', elections],
    ] as const) {
      if (result.status === 'fulfilled') continue;
      const known = asDomainError(result.reason);
      if (known?.code === 'etcd_unavailable') {
        report.etcd = { ok: false, detail: known.message };
      } else {
        s.log.error({ err: result.reason as unknown }, `status report: reading ${part} failed`);
        report.unavailable = [...(report.unavailable ?? []), part];
      }
    }
    res.setHeader('Cache-Control', 'no-store');
    res.json(report);
  });

  return r;
}

function asset(res: Response, type: string, body: string): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.send(body);
}
