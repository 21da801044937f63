import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

/**
 * etcd answers LeaseTimeToLive in whole seconds rounded down: a live lease with under a second
 * left reads 0, and only -1 means it is gone (issue 13, item 10).
 */
describe('the leader read in the last second of a leader lease', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('reports the live leader until its lease is gone, never 503', async () => {
    const name = `last-${randomUUID().slice(0, 8)}`;
    const won = await call(svc.url, 'POST', `/v1/elections/${name}/campaign`, {
      body: { candidate: 'w1', ttlSeconds: 2 },
    });
    expect(won.status).toBe(201);
    const statuses: number[] = [];
    let lastSecondReads = 0;
    const deadline = performance.now() + 6000;
    // Read without renewing until the lease is gone (TTL 2 s: bounded by the deadline).
    for (;;) {
      const r = await call(svc.url, 'GET', `/v1/elections/${name}/leader`, { timeoutMs: 5000 });
      statuses.push(r.status);
      if (performance.now() > deadline) throw new Error('the leader lease never expired');
      if (r.status !== 200) continue;
      const leader = (r.body as { leader: { expiresInMs: number } | null }).leader;
      if (leader === null) break;
      if (leader.expiresInMs < 1000) lastSecondReads++;
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    expect(statuses.filter(s => s !== 200)).toEqual([]);
    expect(lastSecondReads).toBeGreaterThan(0);
  });
});
