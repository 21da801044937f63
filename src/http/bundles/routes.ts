import { Router, type Response } from 'express';
import { z } from 'zod';
import { authorize } from '../../auth/authorize.js';
import { boundIdempotencyKey } from '../../auth/idempotency-scope.js';
import type { BundleGrant } from '../../domain/bundles/bundles.js';
import { InvalidInputError } from '../../domain/errors.js';
import type { Services } from '../../services.js';
import { jsonRequestBody } from '../json-body.js';
import {
  holderSecret,
  idempotencyKeyHeader,
  preferWaitMs,
  requestSignal,
  requireJson,
} from '../request.js';
import { fencingToken, idempotencyKey } from '../schemas.js';
import { parseInput } from '../validate.js';
import { bundleBody } from './schemas.js';

const bundleParams = z.strictObject({ token: fencingToken });

/** The bundle API: acquire several slots at once (try or wait), keepalive, release. */
export function bundlesRouter(s: Services): Router {
  const r = Router();
  const body = bundleBody(s.limits, s.limits.bundleSlotsMax);

  r.post('/v1/bundles', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const input = parseInput(body, req.body ?? {}, '/body');
    for (const x of input.slots) authorize(res, 'acquire', { slot: x.slot });
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
    if (input.session !== undefined && input.slots.some(x => x.lockDelayMs > 0)) {
      throw new InvalidInputError(
        'lock-delay needs a per-grant lease; it cannot be used with a session',
        [{ pointer: '/body/slots', detail: 'lockDelayMs not allowed together with session' }],
      );
    }
    const session = input.session === undefined ? undefined : s.sessions.resolve(input.session);
    const grant = await s.bundles.acquire(
      {
        holder: input.holder,
        slots: input.slots,
        ttlS: input.ttlSeconds,
        waitMs: input.waitMs ?? preferred ?? 0,
        idempotencyKey: key === undefined ? undefined : boundIdempotencyKey(res, key),
        session,
      },
      { signal: requestSignal(res, s.lifecycle) },
    );
    if (input.waitMs === undefined && preferred !== undefined) {
      res.setHeader('Preference-Applied', `wait=${preferred / 1000}`);
    }
    sendBundle(res, grant);
  });

  r.post('/v1/bundles/:token/keepalive', async (req, res) => {
    const { token } = parseInput(bundleParams, req.params, '/params');
    authorize(res, 'acquire', { anySlot: true });
    const kept = await s.bundles.keepAlive(token, holderSecret(req, res), {
      signal: requestSignal(res, s.lifecycle),
      allow: slots => {
        authorizeEach(res, slots);
      },
    });
    res.json({ token, ttlSeconds: kept.ttlS, expiresInMs: kept.expiresInMs });
  });

  r.delete('/v1/bundles/:token', async (req, res) => {
    const { token } = parseInput(bundleParams, req.params, '/params');
    authorize(res, 'acquire', { anySlot: true });
    await s.bundles.release(token, holderSecret(req, res), {
      signal: requestSignal(res, s.lifecycle),
      allow: slots => {
        authorizeEach(res, slots);
      },
    });
    res.status(204).end();
  });

  return r;
}

/** Renewing or releasing a bundle needs `acquire` on every one of its slots (as for each grant). */
function authorizeEach(res: Response, slots: readonly string[]): void {
  for (const slot of slots) authorize(res, 'acquire', { slot });
}

function sendBundle(res: Response, g: BundleGrant): void {
  res
    .status(g.replayed ? 200 : 201)
    .location(`/v1/bundles/${g.token}`)
    .json({
      bundle: g.id,
      token: g.token,
      secret: g.secret,
      holder: g.holder,
      slots: g.slots.map(x => ({
        slot: x.slot,
        token: x.token,
        capacity: x.capacity,
        lockDelayMs: x.lockDelayMs,
      })),
      ttlSeconds: g.ttlS,
      expiresInMs: g.expiresInMs,
      waited: g.waited,
      session: g.session,
    });
}
