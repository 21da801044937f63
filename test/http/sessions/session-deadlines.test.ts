import { describe, expect, it } from 'vitest';
import { call, etcdCalls, startTestService } from '../../support/app.js';

describe('session grant deadlines', () => {
  it('tells a grant under a session its time left without asking etcd on the replica that knows the session, and asks once elsewhere', async () => {
    const a = await startTestService();
    const b = await startTestService({ ETCD_PREFIX: a.config.ETCD_PREFIX });
    try {
      const s = await call(a.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 10 } });
      expect(s.status).toBe(201);
      const before = await etcdCalls(a, 'lease_ttl');
      for (const slot of ['sd-1', 'sd-2', 'sd-3']) {
        const g = await call(a.url, 'POST', `/v1/slots/${slot}/grants`, {
          body: { holder: 'h', session: s.body.session },
        });
        expect(g.status).toBe(201);
        expect(g.body.expiresInMs).toBeGreaterThan(0);
        expect(g.body.expiresInMs).toBeLessThanOrEqual(s.body.expiresInMs);
      }
      expect(await etcdCalls(a, 'lease_ttl')).toBe(before);

      // Replica b never saw the session: it asks etcd once, then remembers.
      for (const slot of ['sd-4', 'sd-5']) {
        const g = await call(b.url, 'POST', `/v1/slots/${slot}/grants`, {
          body: { holder: 'h', session: s.body.session },
        });
        expect(g.status).toBe(201);
        expect(g.body.expiresInMs).toBeGreaterThan(0);
        expect(g.body.expiresInMs).toBeLessThanOrEqual(10_000);
      }
      expect(await etcdCalls(b, 'lease_ttl')).toBe(1);

      // An ended session is refused by the acquire transaction, whatever a replica remembers.
      const auth = { 'slotlock-secret': s.body.session };
      expect(
        (await call(a.url, 'DELETE', `/v1/sessions/${s.body.id}`, { headers: auth })).status,
      ).toBe(204);
      const late = await call(b.url, 'POST', '/v1/slots/sd-6/grants', {
        body: { holder: 'h', session: s.body.session },
      });
      expect(late.status).toBe(410);
      expect(late.body.code).toBe('session_gone');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
