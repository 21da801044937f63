import { Router } from 'express';
import { authorize } from '../../auth/authorize.js';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import type { Services } from '../../services.js';
import { holderSecret, requestSignal, requireJson } from '../request.js';
import { jsonRequestBody } from '../json-body.js';
import { sessionBody } from './schemas.js';
import { parseInput } from '../validate.js';
import { principalId } from '../principal.js';

const sessionParams = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{1,16}$/, 'must be a session id'),
});

/** Client sessions: create, read, keep alive, end (which releases every grant taken under it). */
export function sessionsRouter(s: Services): Router {
  const r = Router();
  const body = sessionBody(s.limits);

  r.post('/v1/sessions', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const input = parseInput(body, req.body ?? {}, '/body');
    authorize(res, 'acquire', { anySlot: true });
    const created = await s.sessions.create(input.ttlSeconds, {
      signal: requestSignal(res, s.lifecycle),
      quota: s.quotas.hook('sessions', principalId(res)),
    });
    const id = created.session.split('.')[0] ?? '';
    res.status(201).location(`/v1/sessions/${id}`).json({
      session: created.session,
      id,
      ttlSeconds: created.ttlS,
      expiresInMs: created.expiresInMs,
    });
  });

  // Reading a session needs no secret: its id reveals only whether it lives and its TTL.
  r.get('/v1/sessions/:id', async (req, res) => {
    const { id } = parseInput(sessionParams, req.params, '/params');
    authorize(res, 'acquire', { anySlot: true });
    const v = await s.sessions.read(id, { signal: requestSignal(res, s.lifecycle) });
    res.json({ id: v.id, ttlSeconds: v.ttlS, expiresInMs: v.expiresInMs });
  });

  r.post('/v1/sessions/:id/keepalive', async (req, res) => {
    const { id } = parseInput(sessionParams, req.params, '/params');
    authorize(res, 'acquire', { anySlot: true });
    const token = sessionToken(id, holderSecret(req, res));
    const kept = await s.sessions.keepAlive(token, { signal: requestSignal(res, s.lifecycle) });
    res.json({ id, ttlSeconds: kept.ttlS, expiresInMs: kept.expiresInMs });
  });

  r.delete('/v1/sessions/:id', async (req, res) => {
    const { id } = parseInput(sessionParams, req.params, '/params');
    authorize(res, 'acquire', { anySlot: true });
    await s.sessions.end(sessionToken(id, holderSecret(req, res)), {
      signal: requestSignal(res, s.lifecycle),
    });
    res.status(204).end();
  });

  return r;
}

function sessionToken(id: string, token: string): string {
  if (!token.startsWith(`${id}.`)) {
    throw new DomainError(
      'session_gone',
      'the session token in Slotlock-Secret does not belong to this session',
    );
  }
  return token;
}
