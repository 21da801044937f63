/**
 * GET /v1/status reads slots and elections separately: when one part fails for a reason other
 * than etcd (a bug), the other part and the SLIs are still answered (200), and the failed part is
 * named, instead of a 500 that left the status page blank.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusReportSchema } from '../../../src/http/status-page/openapi.js';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('GET /v1/status with one part failing', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ REPLICA_ID: 'replica-under-test' });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('answers the slots and SLIs and names the elections as unavailable', async () => {
    const held = await call(svc.url, 'POST', '/v1/slots/partial/grants', {
      body: { holder: 'h', ttlSeconds: 30 },
    });
    expect(held.status).toBe(201);
    const campaign = await call(svc.url, 'POST', '/v1/elections/partial/campaign', {
      body: { candidate: 'c', value: '', ttlSeconds: 30 },
    });
    expect(campaign.status).toBe(201);
    // A bug in the leader read (not an etcd outage): the status report must survive it.
    const elections = svc.services.elections;
    const original = elections.leader.bind(elections);
    elections.leader = () => Promise.reject(new Error('a bug in reading the leader'));
    try {
      const r = await call(svc.url, 'GET', '/v1/status');
      expect(r.status).toBe(200);
      const report = statusReportSchema.parse(r.body);
      expect(report.unavailable).toEqual(['elections']);
      expect(report.elections).toBeUndefined();
      expect(report.etcd.ok).toBe(true);
      expect(report.slots?.items.map(s => s.slot)).toContain('partial');
      expect(report.slis.slis.length).toBeGreaterThan(0);
      expect(report.replica.id).toBe('replica-under-test');
    } finally {
      elections.leader = original;
    }
    const healthy = statusReportSchema.parse((await call(svc.url, 'GET', '/v1/status')).body);
    expect(healthy.unavailable).toBeUndefined();
    expect(healthy.elections?.items.map(e => e.election)).toContain('partial');
  });
});
