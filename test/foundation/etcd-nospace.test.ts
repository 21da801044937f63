import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { eventually } from '../support/poll.js';

/** Fills etcd with large values until it raises its NOSPACE alarm; returns the keys written. */
async function fillUntilNoSpace(svc: TestService): Promise<number> {
  const blob = 'x'.repeat(512 * 1024);
  for (let i = 0; i < 200; i++) {
    try {
      await svc.client.put(`filler/${i}`).value(blob);
    } catch (err) {
      if (String(err).includes('database space exceeded')) return i;
      throw err;
    }
  }
  throw new Error('etcd never ran out of space');
}

async function noSpaceGauge(svc: TestService): Promise<number | undefined> {
  const m = await svc.services.metrics.etcdNoSpace.get();
  return m.values[0]?.value;
}

describe('etcd out of space (NOSPACE alarm)', () => {
  let dir: string;
  let member: EtcdMember;
  let svc: TestService;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-nospace-'));
    member = await startEtcdMember({
      name: 'nospace',
      dataDir: join(dir, 'etcd'),
      extraArgs: [`--quota-backend-bytes=${8 * 1024 * 1024}`],
    });
    svc = await startTestService({}, { endpoints: [member.clientUrl] });
  });
  afterAll(async () => {
    await svc.close();
    await member.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 etcd_nospace, turns /readyz not ready, exports it, and recovers once space is freed', async () => {
    expect((await call(svc.url, 'GET', '/readyz')).status).toBe(200);
    await fillUntilNoSpace(svc);

    const grant = await call(svc.url, 'POST', '/v1/slots/full/grants', { body: { holder: 'h' } });
    expect(grant.status).toBe(503);
    expect(grant.body.code).toBe('etcd_nospace');
    expect(grant.headers.get('retry-after')).not.toBeNull();
    const session = await call(svc.url, 'POST', '/v1/sessions', { body: { ttlSeconds: 10 } });
    expect(session.status).toBe(503);
    const campaign = await call(svc.url, 'POST', '/v1/elections/full/campaign', {
      body: { candidate: 'w1' },
    });
    expect(campaign.status).toBe(503);
    expect(campaign.body.code).toBe('etcd_nospace');
    const ready = await call(svc.url, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('etcd_nospace');
    expect(await noSpaceGauge(svc)).toBe(1);
    const metrics = await call(svc.url, 'GET', '/metrics');
    expect(String(metrics.body)).toMatch(/^slotlock_etcd_nospace_alarm 1$/m);

    // The operator's runbook: delete what filled it, compact, defragment, disarm.
    await svc.client.delete().prefix('filler/');
    const { header } = await svc.client.kv.range({ key: Buffer.from('\0') });
    await svc.client.kv.compact({ revision: header.revision, physical: true });
    await svc.client.maintenance.defragment();
    const { alarms } = await svc.client.maintenance.alarm({ action: 'Get', alarm: 'None' });
    for (const a of alarms) {
      await svc.client.maintenance.alarm({
        action: 'Deactivate',
        memberID: a.memberID,
        alarm: a.alarm,
      });
    }

    // The service recovers unaided: grants, readiness and the gauge.
    expect(
      await eventually(
        async () =>
          (await call(svc.url, 'POST', '/v1/slots/full/grants', { body: { holder: 'h' } }))
            .status === 201,
        10_000,
      ),
    ).toBe(true);
    expect((await call(svc.url, 'GET', '/readyz')).status).toBe(200);
    expect(await noSpaceGauge(svc)).toBe(0);
  });
});
