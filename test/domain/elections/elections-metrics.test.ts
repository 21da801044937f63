import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Leadership } from '../../../src/domain/elections/elections.js';
import { startTestService, type TestService } from '../../support/app.js';

type Sample = { labels: Record<string, string | number | undefined>; value: number };

async function samples(svc: TestService, metric: string): Promise<Sample[]> {
  const m = svc.services.metrics.registry.getSingleMetric(metric);
  if (m === undefined) throw new Error(`no metric ${metric}`);
  return (await m.get()).values;
}

async function valueOf(
  svc: TestService,
  metric: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const all = await samples(svc, metric);
  return all.find(s => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Polls until `check` holds: the metrics follow the replica's watch, a moment after etcd. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

describe('election metrics', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ ELECTIONS_MAX: '3' });
  });
  afterAll(async () => {
    await svc.close();
  });
  const stand = (name: string, candidate: string, waitMs = 0) =>
    svc.services.elections.campaign(name, { candidate, value: '', ttlS: 30, waitMs });
  const resign = (name: string, l: Leadership) =>
    svc.services.elections.resign(name, l.token, l.secret);
  const queued = (name: string, n: number) =>
    eventually(
      async () =>
        (
          await svc.services.store.range({
            prefix: svc.services.elections.space.contenders(name),
            countOnly: true,
          })
        ).count === n,
    );

  it('counts each new term and tracks whether the election has a leader', async () => {
    const changes = () =>
      valueOf(svc, 'slotlock_election_leader_changes_total', { election: 'm1' });
    const present = () => valueOf(svc, 'slotlock_election_leader_present', { election: 'm1' });
    const a = await stand('m1', 'a');
    await eventually(async () => (await changes()) === 1 && (await present()) === 1);
    const waiting = stand('m1', 'b', 20_000);
    await queued('m1', 2);
    await resign('m1', a);
    const b = await waiting;
    await eventually(async () => (await changes()) === 2);
    await resign('m1', b);
    // The last candidate resigned: the election has ended and its series is gone (no page).
    await eventually(async () => (await present()) === undefined);
    expect(await changes()).toBe(2);
  });

  it('observes the election duration once per handover, with reason resigned or expired', async () => {
    const count = async (reason: string) =>
      (
        await svc.services.metrics.registry.getSingleMetricAsString(
          'slotlock_election_duration_seconds',
        )
      ).includes(`slotlock_election_duration_seconds_count{election="m2",reason="${reason}"} 1`);
    const a = await stand('m2', 'a');
    const waitingB = stand('m2', 'b', 20_000);
    await queued('m2', 2);
    await resign('m2', a);
    const b = await waitingB;
    expect(await count('resigned')).toBe(true);

    const waitingC = stand('m2', 'c', 20_000);
    await queued('m2', 2);
    const head = await svc.services.store.range({
      prefix: svc.services.elections.space.contenders('m2'),
      sort: { target: 'create', order: 'asc' },
      limit: 1,
    });
    expect(head.kvs[0]?.createRevision).toBe(b.token);
    await svc.client.leaseClient.leaseRevoke({ ID: head.kvs[0]?.lease ?? '' });
    const c = await waitingC;
    expect(await count('expired')).toBe(true);
    await resign('m2', c);
  });

  it('bounds the election label to ELECTIONS_MAX names and counts the rest as _other', async () => {
    const before = await valueOf(svc, 'slotlock_election_leader_changes_total', {
      election: '_other',
    });
    expect(before).toBeUndefined();
    // m1 and m2 took two of the three labels; m3 takes the last one.
    const held = [await stand('m3', 'a'), await stand('m4', 'a'), await stand('m5', 'a')];
    await eventually(
      async () =>
        (await valueOf(svc, 'slotlock_election_leader_changes_total', { election: '_other' })) ===
        2,
    );
    const labels = new Set(
      (await samples(svc, 'slotlock_election_leader_changes_total')).map(s => s.labels.election),
    );
    expect([...labels].sort()).toEqual(['_other', 'm1', 'm2', 'm3']);
    const present = await samples(svc, 'slotlock_election_leader_present');
    expect(present.some(s => s.labels.election === '_other')).toBe(false);
    await Promise.all(held.map((l, i) => resign(`m${i + 3}`, l)));
  });

  it('keeps campaigns out of the lock acquire SLI', async () => {
    const acquires = async () =>
      (await samples(svc, 'slotlock_lock_acquire_total')).reduce((n, s) => n + s.value, 0);
    const before = await acquires();
    const a = await stand('m1', 'again');
    await resign('m1', a);
    expect(await acquires()).toBe(before);
  });

  it('initialises leader presence from one read at start, without counting a change', async () => {
    const a = await stand('m3', 'x');
    const other = await startTestService({ ETCD_PREFIX: svc.config.ETCD_PREFIX });
    try {
      expect(await valueOf(other, 'slotlock_election_leader_present', { election: 'm3' })).toBe(1);
      expect(
        await valueOf(other, 'slotlock_election_leader_changes_total', { election: 'm3' }),
      ).toBeUndefined();
    } finally {
      await other.close();
      await resign('m3', a);
    }
  });
});
