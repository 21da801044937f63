/**
 * A resigned candidacy's quota ledger key goes in the resign's own transaction: a candidate that
 * resigns and campaigns again at once is not refused for the term it just ended. Before, the key
 * went only with the campaign's lease, revoked in the background after the 204, so a campaign
 * right after a resign at the quota raced that revoke (seen as a flaky 429 in quotas.test.ts).
 * Here every lease revoke is held by a test-only delay, which makes the race deterministic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('resign and the elections quota', () => {
  let svc: TestService;
  const hold = { revokes: false };
  beforeAll(async () => {
    svc = await startTestService(
      { QUOTA_ELECTIONS: '1', TTL_MAX_S: '60' },
      { etcdFaults: { delaySend: op => (op === 'lease_revoke' && hold.revokes ? 3000 : 0) } },
    );
  });
  afterAll(async () => {
    hold.revokes = false;
    await svc.close();
  });

  const campaign = (name: string) =>
    call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
      body: { candidate: 'c', ttlSeconds: 30 },
    });

  it('frees the quota at the 204, before the lease of the ended term is revoked', async () => {
    const ledger = svc.services.quotas.ledgerPrefix('elections', 'anonymous');
    const ledgerKeys = async () => Object.keys(await svc.client.getAll().prefix(ledger).strings());
    const first = await campaign('qr-1');
    expect(first.status).toBe(201);
    expect(await ledgerKeys()).toHaveLength(1);
    expect((await campaign('qr-2')).status).toBe(429);
    hold.revokes = true;
    const resigned = await call(
      svc.url,
      'DELETE',
      `/v1/elections/qr-1/leaders/${first.body.token as string}`,
      { headers: { 'slotlock-secret': first.body.secret as string } },
    );
    expect(resigned.status).toBe(204);
    // The revoke of the ended term's lease is still held back.
    expect(svc.services.cleanup.pending).toBeGreaterThan(0);
    expect(await ledgerKeys()).toEqual([]);
    const again = await campaign('qr-2');
    expect(again.status).toBe(201);
    hold.revokes = false;
  });
});
