/**
 * An administrator's forced end of a session grant deletes the grant's quota ledger key with it.
 * The key lives on the session's lease, so left behind it kept counting against the principal
 * for as long as the session lived (and a principal at its quota stayed refused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('forced end and the grants quota', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ QUOTA_GRANTS: '1', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('frees the quota of a force-ended session grant', async () => {
    const ledger = svc.services.quotas.ledgerPrefix('grants', 'anonymous');
    const ledgerKeys = async () => Object.keys(await svc.client.getAll().prefix(ledger).strings());
    const s = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    expect(s.status).toBe(201);
    const session = s.body.session as string;
    const body = { holder: 'stuck', ttlSeconds: 30, session };
    const held = await call(svc.url, 'POST', '/v1/slots/fe-1/grants', { body });
    expect(held.status).toBe(201);
    expect(await ledgerKeys()).toHaveLength(1);
    const forced = await call(
      svc.url,
      'DELETE',
      `/v1/admin/slots/fe-1/grants/${held.body.token as string}`,
    );
    expect(forced.status).toBe(200);
    expect(forced.body.session).toBe(true);
    expect(await ledgerKeys()).toEqual([]);
    const next = await call(svc.url, 'POST', '/v1/slots/fe-2/grants', { body });
    expect(next.status).toBe(201);
  });
});
