/**
 * The election SLI measures leaderless time: a crashed leader (no more keepalives) counts from its
 * last successful keepalive, not from the moment etcd deleted its key; a resign counts from the
 * resign, in buckets fine enough for a few milliseconds. Ended elections drop their
 * leader-present series; abandoned ones (last candidate crashed) show 0 for a while.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../../support/app.js';

interface Sample {
  labels: Record<string, string | number | undefined>;
  value: number;
  metricName?: string;
}

describe('election leaderless-time SLI', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  const samples = async (metric: string): Promise<Sample[]> => {
    const m = svc.services.metrics.registry.getSingleMetric(metric);
    if (m === undefined) throw new Error(`no metric ${metric}`);
    return (await m.get()).values;
  };
  /** The `_sum` and `_count` of one histogram series. */
  const series = async (metric: string, election: string, reason: string) => {
    const all = (await samples(metric)).filter(
      s => s.labels.election === election && s.labels.reason === reason,
    );
    const pick = (suffix: string) => all.find(s => s.metricName === metric + suffix)?.value ?? 0;
    const bucket = (le: number) =>
      all.find(s => s.metricName === `${metric}_bucket` && s.labels.le === le)?.value ?? 0;
    return { sum: pick('_sum'), count: pick('_count'), bucket };
  };
  const present = async (election: string) =>
    (await samples('slotlock_election_leader_present')).find(s => s.labels.election === election)
      ?.value;
  const contenders = async (name: string) =>
    (
      await svc.services.store.range({
        prefix: svc.services.elections.space.contenders(name),
        countOnly: true,
      })
    ).count;
  const until = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error('condition not met in time');
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  };
  const stand = (name: string, candidate: string, ttlS: number, waitMs = 0) =>
    svc.services.elections.campaign(name, { candidate, value: '', ttlS, waitMs });

  it('records a crashed leader failover as its leaderless time, from the last keepalive', async () => {
    const name = 'crash';
    const ttlS = 2;
    const a = await stand(name, 'a', ttlS);
    const waiting = stand(name, 'b', 30, 20_000);
    await until(async () => (await contenders(name)) === 2);
    // a proves leadership one last time, then "crashes": no keepalive ever again.
    const keepaliveSent = performance.now();
    await svc.services.elections.keepAlive(name, a.token, a.secret);
    const keepaliveAnswered = performance.now();
    const b = await waiting;
    const electedAt = performance.now();

    const sli = await series('slotlock_election_duration_seconds', name, 'expired');
    const handover = await series('slotlock_election_handover_seconds', name, 'expired');
    expect(sli.count).toBe(1);
    expect(handover.count).toBe(1);
    const upper = (electedAt - keepaliveSent) / 1000;
    const lower = (electedAt - keepaliveAnswered) / 1000;
    console.log(
      `crash failover, TTL ${ttlS} s: leaderless ${sli.sum.toFixed(3)} s recorded ` +
        `(test saw ${lower.toFixed(3)}..${upper.toFixed(3)} s since the last keepalive), ` +
        `handover part ${(handover.sum * 1000).toFixed(1)} ms`,
    );
    // Not the few ms from the key's delete to the grant: at least the TTL the key was held for.
    expect(sli.sum).toBeGreaterThanOrEqual(ttlS);
    expect(sli.sum).toBeLessThanOrEqual(upper + 0.05);
    // etcd deletes an expired lease's keys up to ~0.5 s after its TTL: a lower bound, not more.
    expect(sli.sum).toBeGreaterThanOrEqual(lower - 1);
    expect(handover.sum).toBeLessThan(1);
    await svc.services.elections.resign(name, b.token, b.secret);
  });

  it('records the leaderless time on the replica that grants, whichever kept the old leader alive', async () => {
    const name = 'crash-across-replicas';
    const ttlS = 2;
    const other = await startTestService({ ETCD_PREFIX: svc.config.ETCD_PREFIX });
    try {
      // a leads and keeps alive through this replica; b waits on the other one.
      const a = await stand(name, 'a', ttlS);
      const waiting = other.services.elections.campaign(name, {
        candidate: 'b',
        value: '',
        ttlS: 30,
        waitMs: 20_000,
      });
      await until(async () => (await contenders(name)) === 2);
      const keepaliveSent = performance.now();
      await svc.services.elections.keepAlive(name, a.token, a.secret);
      const b = await waiting;
      const upper = (performance.now() - keepaliveSent) / 1000;
      const m = other.services.metrics.registry.getSingleMetric(
        'slotlock_election_duration_seconds',
      );
      const values = ((await m?.get())?.values ?? []) as Sample[];
      const sum = values.find(
        v =>
          v.metricName === 'slotlock_election_duration_seconds_sum' &&
          v.labels.election === name &&
          v.labels.reason === 'expired',
      )?.value;
      expect(sum).toBeGreaterThanOrEqual(ttlS);
      expect(sum).toBeLessThanOrEqual(upper + 0.05);
      await other.services.elections.resign(name, b.token, b.secret);
    } finally {
      await other.close();
    }
  });

  it('records a resign handover in milliseconds, in buckets below 100 ms', async () => {
    const name = 'resign';
    const a = await stand(name, 'a', 30);
    const waiting = stand(name, 'b', 30, 20_000);
    await until(async () => (await contenders(name)) === 2);
    await svc.services.elections.resign(name, a.token, a.secret);
    const b = await waiting;
    const sli = await series('slotlock_election_duration_seconds', name, 'resigned');
    expect(sli.count).toBe(1);
    expect(sli.sum).toBeLessThan(0.05);
    // The status page reads a quantile off these buckets: one below 50 ms must hold it.
    expect(sli.bucket(0.05)).toBe(1);
    await svc.services.elections.resign(name, b.token, b.secret);
  });

  it('removes the leader-present series of an election whose last candidate resigned', async () => {
    const name = 'ended';
    const a = await stand(name, 'a', 30);
    await until(async () => (await present(name)) === 1);
    await svc.services.elections.resign(name, a.token, a.secret);
    await until(async () => (await present(name)) === undefined);
  });

  it('shows 0 for an election whose last candidate vanished without resigning', async () => {
    const name = 'abandoned';
    const a = await stand(name, 'a', 30);
    await until(async () => (await present(name)) === 1);
    const head = await svc.services.store.range({
      prefix: svc.services.elections.space.contenders(name),
      limit: 1,
    });
    expect(head.kvs[0]?.createRevision).toBe(a.token);
    await svc.client.leaseClient.leaseRevoke({ ID: head.kvs[0]?.lease ?? '' });
    await until(async () => (await present(name)) === 0);
  });
});
