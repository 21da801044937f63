/**
 * Release markers go on a shared, expiring lease (src/domain/marker-leases.ts). When that lease is
 * gone before its time (revoked by an operator, lost in a restore of etcd from a snapshot), etcd
 * refuses the whole release transaction: the release must then take a new marker lease and go
 * through, not answer 500 until the bucket ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('a release whose marker lease is gone', () => {
  let svc: TestService;
  beforeAll(async () => {
    // A long retention: the marker lease would serve for 60 s.
    svc = await startTestService({ RELEASE_MARKER_RETENTION_S: '600' });
  });
  afterAll(async () => {
    await svc.close();
  });

  const cycle = async (slot: string, path: '/v1/slots' | '/v1/elections') => {
    const acquired =
      path === '/v1/slots'
        ? await call(svc.url, 'POST', `${path}/${slot}/grants`, {
            body: { holder: 'h', ttlSeconds: 30 },
          })
        : await call(svc.url, 'POST', `${path}/${slot}/campaign`, {
            body: { candidate: 'c', ttlSeconds: 30 },
          });
    expect(acquired.status).toBe(201);
    const where = path === '/v1/slots' ? 'grants' : 'leaders';
    return call(svc.url, 'DELETE', `${path}/${slot}/${where}/${acquired.body.token as string}`, {
      headers: { 'slotlock-secret': acquired.body.secret as string },
    });
  };

  it('takes a new marker lease and releases (slots and elections)', async () => {
    expect((await cycle('ml-1', '/v1/slots')).status).toBe(204);
    const marker = await svc.client.get(`${svc.services.keys.slots}ml-1#r`).exec();
    const lease = marker.kvs[0]?.lease;
    expect(lease).toBeDefined();
    expect(lease).not.toBe('0');
    await svc.client.leaseClient.leaseRevoke({ ID: lease ?? '0' });
    const again = await cycle('ml-2', '/v1/slots');
    expect(again.body).toBeUndefined();
    expect(again.status).toBe(204);
    expect((await cycle('ml-3', '/v1/elections')).status).toBe(204);
    // A bundle's release puts its markers on the same lease: revoke the new one too.
    const second = await svc.client.get(`${svc.services.keys.slots}ml-2#r`).exec();
    await svc.client.leaseClient.leaseRevoke({ ID: second.kvs[0]?.lease ?? '0' });
    const bundle = await call(svc.url, 'POST', '/v1/bundles', {
      body: { slots: [{ slot: 'ml-b1' }, { slot: 'ml-b2' }], holder: 'h', ttlSeconds: 30 },
    });
    expect(bundle.status).toBe(201);
    const ended = await call(svc.url, 'DELETE', `/v1/bundles/${bundle.body.token as string}`, {
      headers: { 'slotlock-secret': bundle.body.secret as string },
    });
    expect(ended.status).toBe(204);
    const fresh = await svc.client.get(`${svc.services.keys.slots}ml-2#r`).exec();
    expect(fresh.kvs[0]?.lease).not.toBe(lease);
  });
});
