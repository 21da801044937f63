import { Router, type Request, type Response } from 'express';
import { authorize } from '../../auth/authorize.js';
import { z } from 'zod';
import { asDomainError, DomainError, InvalidInputError } from '../../domain/errors.js';
import type { Leadership } from '../../domain/elections/elections.js';
import type { Services } from '../../services.js';
import { EventStream } from '../event-stream.js';
import { problemType } from '../problem.js';
import {
  holderSecret,
  idempotencyKeyHeader,
  preferWaitMs,
  requestSignal,
  requireJson,
} from '../request.js';
import { jsonRequestBody } from '../json-body.js';
import { campaignBody, proclaimBody } from './schemas.js';
import { electionName, fencingToken, idempotencyKey } from '../schemas.js';
import { boundIdempotencyKey } from '../../auth/idempotency-scope.js';
import { parseInput } from '../validate.js';
import { principalId } from '../principal.js';
import { requestLogger } from '../request-log.js';

const electionParams = z.strictObject({ name: electionName });
const termParams = z.strictObject({ name: electionName, token: fencingToken });

/** How often an idle observe stream sends a comment line, and the reconnect hint it gives. */
const KEEPALIVE_MS = 15_000;
const RETRY_MS = 1000;

/** The election API: campaign, keepalive, proclaim, resign, leader, observe (SSE). */
export function electionsRouter(s: Services): Router {
  const r = Router();
  const body = campaignBody(s.limits);

  r.post('/v1/elections/:name/campaign', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const { name } = parseInput(electionParams, req.params, '/params');
    authorize(res, 'elect', { election: name });
    const input = parseInput(body, req.body ?? {}, '/body');
    const preferred = preferredWait(req, s.limits.waitMaxMs);
    const principal = principalId(res);
    const waitMs = input.waitMs ?? preferred ?? 0;
    const leadership = await s.quotas.waiting(principal, waitMs > 0, () =>
      s.elections.campaign(
        name,
        {
          candidate: input.candidate,
          value: input.value,
          ttlS: input.ttlSeconds,
          waitMs,
          idempotencyKey: campaignKey(req, res),
          quota: s.quotas.hook('elections', principal),
        },
        { signal: requestSignal(res, s.lifecycle) },
      ),
    );
    if (input.waitMs === undefined && preferred !== undefined) {
      res.setHeader('Preference-Applied', `wait=${preferred / 1000}`);
    }
    sendLeadership(res, leadership);
  });

  r.post('/v1/elections/:name/leaders/:token/keepalive', async (req, res) => {
    const { name, token } = parseInput(termParams, req.params, '/params');
    authorize(res, 'elect', { election: name });
    const kept = await s.elections.keepAlive(name, token, holderSecret(req, res), {
      signal: requestSignal(res, s.lifecycle),
    });
    res.json({ election: name, token, ttlSeconds: kept.ttlS, expiresInMs: kept.expiresInMs });
  });

  r.put('/v1/elections/:name/leaders/:token/value', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const { name, token } = parseInput(termParams, req.params, '/params');
    authorize(res, 'elect', { election: name });
    const secret = holderSecret(req, res);
    const { value } = parseInput(proclaimBody, req.body ?? {}, '/body');
    await s.elections.proclaim(name, token, secret, value, {
      signal: requestSignal(res, s.lifecycle),
    });
    res.json({ election: name, token, value });
  });

  r.delete('/v1/elections/:name/leaders/:token', async (req, res) => {
    const { name, token } = parseInput(termParams, req.params, '/params');
    authorize(res, 'elect', { election: name });
    await s.elections.resign(name, token, holderSecret(req, res), {
      signal: requestSignal(res, s.lifecycle),
      // The term's quota ledger key goes in the resign's own transaction, not with its lease.
      ledgerPrefix: s.quotas.activeLedgerPrefix('elections', principalId(res)),
    });
    res.status(204).end();
  });

  r.get('/v1/elections/:name/leader', async (req, res) => {
    const { name } = parseInput(electionParams, req.params, '/params');
    authorize(res, 'read', { election: name });
    res.json(await s.elections.leader(name, { signal: requestSignal(res, s.lifecycle) }));
  });

  r.get('/v1/elections/:name/observe', async (req, res) => {
    const { name } = parseInput(electionParams, req.params, '/params');
    authorize(res, 'read', { election: name });
    const fromRevision = lastEventId(req);
    const signal = requestSignal(res, s.lifecycle);
    const stream = new EventStream(res, { retryMs: RETRY_MS, keepAliveMs: KEEPALIVE_MS });
    stream.open();
    try {
      for await (const state of s.elections.observe(name, { fromRevision, signal })) {
        stream.send('leader', state.revision, state);
      }
    } catch (err) {
      if (!signal.aborted) {
        // The status is already sent: report the problem as an event; the client reconnects.
        const e = asDomainError(err) ?? new DomainError('internal', String(err));
        if (e.code === 'internal') requestLogger(req, res).error({ err }, 'observe stream failed');
        stream.send('problem', undefined, {
          type: problemType(e.code),
          code: e.code,
          detail: e.message,
        });
      }
    } finally {
      stream.close();
    }
  });

  return r;
}

/** The `Prefer: wait=N` preference, capped like the slot long-poll. */
function preferredWait(req: Request, waitMaxMs: number): number | undefined {
  const preferred = preferWaitMs(req);
  if (preferred !== undefined && preferred > waitMaxMs) {
    throw new InvalidInputError(`Prefer: wait exceeds the long-poll cap of ${waitMaxMs / 1000} s`, [
      { pointer: '/headers/prefer', detail: `wait must be at most ${waitMaxMs / 1000}` },
    ]);
  }
  return preferred;
}

/** The SSE `Last-Event-ID` (an etcd revision we sent as an event id), if the client sent one. */
function lastEventId(req: Request): string | undefined {
  const raw = req.headers['last-event-id'];
  if (typeof raw !== 'string' || raw === '') return undefined;
  return parseInput(fencingToken, raw, '/headers/last-event-id');
}

/** The campaign's Idempotency-Key, if any, bound to the caller (as for acquires). */
function campaignKey(req: Request, res: Response): string | undefined {
  const raw = idempotencyKeyHeader(req);
  if (raw === undefined) return undefined;
  return boundIdempotencyKey(res, parseInput(idempotencyKey, raw, '/headers/idempotency-key'));
}

function sendLeadership(res: Response, l: Leadership): void {
  const location = `/v1/elections/${l.election.replaceAll('/', '%2F')}/leaders/${l.token}`;
  // A replay (same Idempotency-Key) answers the existing term with 200, as acquires do.
  res
    .status(l.replayed ? 200 : 201)
    .location(location)
    .json({
      election: l.election,
      token: l.token,
      secret: l.secret,
      candidate: l.candidate,
      value: l.value,
      ttlSeconds: l.ttlS,
      expiresInMs: l.expiresInMs,
      waited: l.waited,
    });
}
