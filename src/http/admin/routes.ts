import { Router } from 'express';
import { z } from 'zod';
import { auditLog } from '../../auth/audit.js';
import { authorize } from '../../auth/authorize.js';
import { forceEnd } from '../../domain/force-end.js';
import { electionSpace, slotSpace } from '../../etcd/keys.js';
import type { Services } from '../../services.js';
import { requestSignal } from '../request.js';
import { electionName, fencingToken, slotName } from '../schemas.js';
import { parseInput } from '../validate.js';

const grantParams = z.strictObject({ slot: slotName, token: fencingToken });
const termParams = z.strictObject({ name: electionName, token: fencingToken });

/**
 * Administration (verb `admin`): force-release a grant and end a leadership without their
 * secrets, e.g. a stuck holder with a long TTL. Each success writes an audit line.
 */
export function adminRouter(s: Services): Router {
  const r = Router();
  const slots = slotSpace(s.keys);
  const elections = electionSpace(s.keys);

  r.delete('/v1/admin/slots/:slot/grants/:token', async (req, res) => {
    const { slot, token } = parseInput(grantParams, req.params, '/params');
    authorize(res, 'admin', { slot });
    const ended = await forceEnd(
      s.store,
      slots,
      s.cleanup,
      { name: slot, token },
      {
        signal: requestSignal(res, s.lifecycle),
      },
    );
    auditLog(req, res, 'force-release', { slot, token, holder: ended.holder });
    res.json({ slot, token, holder: ended.holder ?? null, session: ended.session });
  });

  r.delete('/v1/admin/elections/:name/leaders/:token', async (req, res) => {
    const { name, token } = parseInput(termParams, req.params, '/params');
    authorize(res, 'admin', { election: name });
    const ended = await forceEnd(
      s.store,
      elections,
      s.cleanup,
      { name, token },
      {
        signal: requestSignal(res, s.lifecycle),
      },
    );
    auditLog(req, res, 'end-leadership', { election: name, token, candidate: ended.holder });
    res.json({ election: name, token, candidate: ended.holder ?? null });
  });

  return r;
}
