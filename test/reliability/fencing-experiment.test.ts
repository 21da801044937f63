/**
 * A short run of the fencing experiment (scripts/experiment-fencing.ts): two worker processes,
 * one SIGSTOP pause per run, against the shared test etcd. Without fencing the paused holder's
 * late write must land (the anomaly is real); with fencing it must be refused as stale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMode, type RunOptions, type RunResult } from '../../scripts/experiment-fencing-run.js';
import { killAllWorkers } from '../../scripts/experiment-process.js';
import { report } from '../../scripts/experiment-report.js';
import { startTestService, type TestService } from '../support/app.js';

describe('fencing experiment (short)', () => {
  let svc: TestService;
  let base: Omit<RunOptions, 'mode' | 'slot'>;
  beforeAll(async () => {
    svc = await startTestService();
    base = {
      slotlockUrl: svc.url,
      etcd: svc.client,
      store: svc.services.store,
      keys: svc.services.keys,
      workers: 2,
      pauses: 1,
      ttlS: 2,
      writesBetweenPauses: 1,
      signal: AbortSignal.timeout(80_000),
    };
  });
  afterAll(async () => {
    killAllWorkers();
    await svc.close();
  });

  let unfenced: RunResult;
  let fenced: RunResult;

  it('reproduces a stale holder write and lost update without fencing', async () => {
    unfenced = await runMode({ ...base, mode: 'unfenced', slot: 'exp/unfenced' });
    expect(unfenced.pauses).toHaveLength(1);
    const [pause] = unfenced.pauses;
    expect(pause?.outcome).toBe('applied');
    expect(BigInt(pause?.newerToken ?? '0')).toBeGreaterThan(BigInt(pause?.victimToken ?? '0'));
    expect(pause?.pausedMs).toBeGreaterThan(2000);
    expect(unfenced.staleWrites).toBeGreaterThanOrEqual(1);
    expect(unfenced.lostUpdates).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('rejects the paused holder write with stale_token when fenced, and loses nothing', async () => {
    fenced = await runMode({ ...base, mode: 'fenced', slot: 'exp/fenced' });
    expect(fenced.pauses).toHaveLength(1);
    const [pause] = fenced.pauses;
    expect(pause?.outcome).toBe('rejected');
    expect(pause?.code).toBe('stale_token');
    expect(pause?.detail).toContain(`grant ${pause?.victimToken}`);
    expect(BigInt(pause?.winningToken ?? '0')).toBeGreaterThan(BigInt(pause?.victimToken ?? '0'));
    expect(fenced.staleWrites).toBe(0);
    expect(fenced.lostUpdates).toBe(0);
    // The history comes from etcd: every acknowledged write is there, tokens never go down.
    expect(fenced.history).toHaveLength(fenced.acknowledged);
    expect(fenced.finalCounter).toBe(fenced.acknowledged);
    const metrics = await svc.services.metrics.staleTokens.get();
    expect(metrics.values.find(v => v.labels.source === 'store')?.value).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('gives the verdict the script exits on', () => {
    const r = report(unfenced, fenced, { ttlS: 2, pauses: 1 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sli['stale_leader_write.count'].withFencing).toBe(0);
    expect(r.sli['stale_leader_write.count'].withoutFencing).toBeGreaterThanOrEqual(1);
  });
});
