import { Router, type RequestHandler } from 'express';
import { authorize } from '../../auth/authorize.js';
import { jsonBody, jsonRequestBody } from '../json-body.js';
import { z } from 'zod';
import { DomainError } from '../../domain/errors.js';
import type { Services } from '../../services.js';
import { holderSecret, requestSignal, requireJson } from '../request.js';
import { fencingToken, slotName } from '../schemas.js';
import { parseInput } from '../validate.js';
import { principalId } from '../principal.js';

/** Largest fenced value, in UTF-8 bytes (etcd's own request limit is 1.5 MiB). */
export const FENCED_VALUE_MAX_BYTES = 64 * 1024;
/** Body limit of a fenced write: room for a 64 KiB value even when JSON escapes every byte. */
const BODY_LIMIT_BYTES = 6 * FENCED_VALUE_MAX_BYTES + 4096;

/** Record names: one path segment of 1 to 128 characters `[A-Za-z0-9._:-]`. */
export const recordName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9._:-]+$/, 'may contain only letters, digits and . _ : -');

/** A resource label in stale reports: short and bounded (it is logged, never a metric label). */
export const resourceLabel = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._:/-]+$/, 'may contain only letters, digits and . _ : / -');

const recordParams = z.strictObject({ slot: slotName, record: recordName });
const slotParams = z.strictObject({ slot: slotName });
const writeBody = (ttlMaxS: number) =>
  z.strictObject({
    token: fencingToken,
    value: z.string('must be a string (serialize structured data yourself)'),
    ttlSeconds: z
      .number('must be a whole number of seconds')
      .int('must be a whole number of seconds')
      .min(1, 'must be at least 1')
      .max(ttlMaxS, `must be at most ${ttlMaxS}`)
      .optional(),
  });
const deleteQuery = z.strictObject({ token: fencingToken });
const reportBody = z.strictObject({
  token: fencingToken,
  highestSeen: fencingToken,
  resource: resourceLabel,
});

/**
 * The fencing API: a fenced record store inside etcd that only takes writes from a live holder
 * whose token is not lower than the record's, and stale-token reports from resources outside etcd.
 * A fenced value may be up to 64 KiB, so fenced writes parse their bodies with a larger limit.
 */
export function fencingRouter(s: Services): Router {
  const r = Router();
  const json = fencedJson();
  const body = writeBody(s.config.FENCED_TTL_MAX_S);

  r.put('/v1/slots/:slot/fenced/:record', json, async (req, res) => {
    requireJson(req);
    const { slot, record } = parseInput(recordParams, req.params, '/params');
    authorize(res, 'fenced-write', { slot });
    const secret = holderSecret(req, res);
    const { token, value, ttlSeconds } = parseInput(body, req.body ?? {}, '/body');
    if (Buffer.byteLength(value) > FENCED_VALUE_MAX_BYTES) {
      throw new DomainError(
        'payload_too_large',
        `/body/value: must be at most ${FENCED_VALUE_MAX_BYTES} bytes (UTF-8); nothing was written`,
        { extensions: { errors: [{ pointer: '/body/value', detail: 'larger than 64 KiB' }] } },
      );
    }
    const out = await s.fenced.write(
      { slot, record, token, secret, value, principal: principalId(res), ttlS: ttlSeconds },
      { signal: requestSignal(res, s.lifecycle) },
    );
    res.json({
      slot,
      record,
      token,
      applied: true,
      revision: out.revision,
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    });
  });

  r.delete('/v1/slots/:slot/fenced/:record', async (req, res) => {
    const { slot, record } = parseInput(recordParams, req.params, '/params');
    authorize(res, 'fenced-write', { slot });
    const secret = holderSecret(req, res);
    const { token } = parseInput(deleteQuery, { ...req.query }, '/query');
    await s.fenced.remove(
      { slot, record, token, secret },
      { signal: requestSignal(res, s.lifecycle) },
    );
    res.status(204).end();
  });

  r.get('/v1/slots/:slot/fenced/:record', async (req, res) => {
    const { slot, record } = parseInput(recordParams, req.params, '/params');
    authorize(res, 'read', { slot });
    const v = await s.fenced.read(slot, record, { signal: requestSignal(res, s.lifecycle) });
    res.json({ slot, record, value: v.value, token: v.token, revision: v.revision });
  });

  r.post('/v1/slots/:slot/stale-reports', jsonRequestBody, async (req, res) => {
    requireJson(req);
    const { slot } = parseInput(slotParams, req.params, '/params');
    authorize(res, 'fenced-write', { slot });
    const input = parseInput(reportBody, req.body ?? {}, '/body');
    const out = await s.staleReports.report(
      { slot, ...input },
      { signal: requestSignal(res, s.lifecycle) },
    );
    res.status(202).json({ slot, ...input, revision: out.revision });
  });

  return r;
}

/** The JSON parser of fenced writes: room for a 64 KiB value however JSON escapes it. */
function fencedJson(): RequestHandler {
  return jsonBody({
    limitBytes: BODY_LIMIT_BYTES,
    limitText: `${BODY_LIMIT_BYTES} bytes`,
  });
}
