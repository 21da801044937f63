import { Router, type Request, type Response } from 'express';
import { authorize } from '../../auth/authorize.js';
import { boundIdempotencyKey } from '../../auth/idempotency-scope.js';
import { z } from 'zod';
import { InvalidInputError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import type { Services } from '../../services.js';
import {
  holderSecret,
  idempotencyKeyHeader,
  preferWaitMs,
  requestSignal,
  requireJson,
} from '../request.js';
import { jsonRequestBody } from '../json-body.js';
import { fencingToken, idempotencyKey, slotName } from '../schemas.js';
import { acquireBody, listQuery } from './schemas.js';
import { parseInput } from '../validate.js';
import { principalId } from '../principal.js';

const slotParams = z.strictObject({ slot: slotName });
const grantParams = z.strictObject({ slot: slotName, token: fencingToken });

/** The slot API: acquire (try or wait), keepalive, release, inspect, list, token check, queue. */
export function slotsRouter(s: Services): Router {
  const r = Router();
  const body = acquireBody(s.limits);

  r.post('/v1/slots/:slot/grants', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const { slot } = parseInput(slotParams, req.params, '/params');
    authorize(res, 'acquire', { slot });
    const input = parseInput(body, req.body ?? {}, '/body');
    const preferred = preferWaitMs(req);
    if (preferred !== undefined && preferred > s.limits.waitMaxMs) {
      throw new InvalidInputError(
        `Prefer: wait exceeds the long-poll cap of ${s.limits.waitMaxMs / 1000} s`,
        [
          {
            pointer: '/headers/prefer',
            detail: `wait must be at most ${s.limits.waitMaxMs / 1000}`,
          },
        ],
      );
    }
    const rawKey = idempotencyKeyHeader(req);
    const key =
      rawKey === undefined
        ? undefined
        : parseInput(idempotencyKey, rawKey, '/headers/idempotency-key');
    if (input.session !== undefined && (input.lockDelayMs ?? 0) > 0) {
      throw new InvalidInputError(
        'lock-delay needs a per-grant lease; it cannot be used with a session',
        [{ pointer: '/body/lockDelayMs', detail: 'not allowed together with session' }],
      );
    }
    const session = input.session === undefined ? undefined : s.sessions.resolve(input.session);
    const waitMs = input.waitMs ?? preferred ?? 0;
    const principal = principalId(res);
    const grant = await s.quotas.waiting(principal, waitMs > 0, () =>
      s.semaphore.acquire(
        {
          slot,
          holder: input.holder,
          capacity: input.capacity,
          ttlS: input.ttlSeconds,
          waitMs,
          idempotencyKey: key === undefined ? undefined : boundIdempotencyKey(res, key),
          session,
          lockDelayMs: input.lockDelayMs,
          quota: s.quotas.hook('grants', principal),
        },
        { signal: requestSignal(res, s.lifecycle) },
      ),
    );
    if (input.waitMs === undefined && preferred !== undefined) {
      res.setHeader('Preference-Applied', `wait=${preferred / 1000}`);
    }
    sendGrant(res, grant);
  });

  r.post('/v1/slots/:slot/grants/:token/keepalive', async (req, res) => {
    const { slot, token } = parseInput(grantParams, req.params, '/params');
    authorize(res, 'acquire', { slot });
    const secret = holderSecret(req, res);
    const kept = await s.semaphore.keepAlive(slot, token, secret, {
      signal: requestSignal(res, s.lifecycle),
    });
    res.json({ slot, token, ttlSeconds: kept.ttlS, expiresInMs: kept.expiresInMs });
  });

  r.delete('/v1/slots/:slot/grants/:token', async (req, res) => {
    const { slot, token } = parseInput(grantParams, req.params, '/params');
    authorize(res, 'acquire', { slot });
    await s.semaphore.release(slot, token, holderSecret(req, res), {
      signal: requestSignal(res, s.lifecycle),
      // The grant's quota ledger key goes in the release's own transaction.
      ledgerPrefix: s.quotas.activeLedgerPrefix('grants', principalId(res)),
    });
    res.status(204).end();
  });

  r.get('/v1/slots/:slot', async (req, res) => {
    const { slot } = parseInput(slotParams, req.params, '/params');
    authorize(res, 'read', { slot });
    res.json(await s.reader.inspect(slot, { signal: requestSignal(res, s.lifecycle) }));
  });

  r.get('/v1/slots', async (req, res) => {
    const q = parseInput(listQuery, req.query, '/query');
    authorize(res, 'read', { slotPrefix: q.prefix });
    res.json(await s.reader.list(q.prefix, q.limit, { signal: requestSignal(res, s.lifecycle) }));
  });

  r.get('/v1/slots/:slot/tokens/:token', async (req, res) => {
    const { slot, token } = parseInput(grantParams, req.params, '/params');
    authorize(res, 'read', { slot }, s.config.AUTH_PUBLIC_TOKEN_CHECKS);
    res.json(await s.reader.check(slot, token, { signal: requestSignal(res, s.lifecycle) }));
  });

  r.get('/v1/slots/:slot/queue', async (req, res) => {
    const { slot } = parseInput(slotParams, req.params, '/params');
    authorize(res, 'acquire', { slot });
    const key = requiredIdempotencyKey(req, res);
    const p = await s.reader.position(slot, key, { signal: requestSignal(res, s.lifecycle) });
    res.json({ slot, ...p });
  });

  r.delete('/v1/slots/:slot/queue', async (req, res) => {
    const { slot } = parseInput(slotParams, req.params, '/params');
    authorize(res, 'acquire', { slot });
    const key = requiredIdempotencyKey(req, res);
    await s.semaphore.cancel(slot, key, { signal: requestSignal(res, s.lifecycle) });
    res.status(204).end();
  });

  return r;
}

function requiredIdempotencyKey(req: Request, res: Response): string {
  const raw = idempotencyKeyHeader(req);
  if (raw === undefined) {
    throw new InvalidInputError('send the Idempotency-Key the acquire was made with', [
      { pointer: '/headers/idempotency-key', detail: 'required' },
    ]);
  }
  return boundIdempotencyKey(res, parseInput(idempotencyKey, raw, '/headers/idempotency-key'));
}

function sendGrant(res: Response, g: Grant): void {
  const location = `/v1/slots/${g.slot.replaceAll('/', '%2F')}/grants/${g.token}`;
  res
    .status(g.replayed ? 200 : 201)
    .location(location)
    .json({
      slot: g.slot,
      token: g.token,
      secret: g.secret,
      holder: g.holder,
      capacity: g.capacity,
      ttlSeconds: g.ttlS,
      expiresInMs: g.expiresInMs,
      waited: g.waited,
      session: g.session,
    });
}
