/**
 * A keyspace that stays bounded: slots and elections that were cleanly released leave their
 * release marker only for RELEASE_MARKER_RETENTION_S (+ one bucket); then the keyspace is back to
 * its size. Tokens stay monotonic and old tokens stay not current after the markers are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../support/app.js';

const N_SLOTS = 30;
const N_ELECTIONS = 5;

describe('release markers expire', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ RELEASE_MARKER_RETENTION_S: '2', TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  async function keyCount(): Promise<number> {
    const { keys, store } = svc.services;
    const [slots, elections] = await Promise.all([
      store.range({ prefix: keys.slots, countOnly: true }),
      store.range({ prefix: keys.elections, countOnly: true }),
    ]);
    return slots.count + elections.count;
  }

  it('returns the keyspace to its size once idle slots and elections age out', async () => {
    const baseline = await keyCount();
    const released: { slot: string; token: string }[] = [];
    for (let i = 0; i < N_SLOTS; i++) {
      const slot = `idle-${i}`;
      const g = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
        body: { holder: 'h', ttlSeconds: 30 },
      });
      expect(g.status).toBe(201);
      const r = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.body.token}`, {
        headers: { 'slotlock-secret': g.body.secret },
      });
      expect(r.status).toBe(204);
      released.push({ slot, token: g.body.token });
    }
    for (let i = 0; i < N_ELECTIONS; i++) {
      const c = await call(svc.url, 'POST', `/v1/elections/idle-e${i}/campaign`, {
        body: { candidate: 'w', ttlSeconds: 30 },
      });
      expect(c.status).toBe(201);
      const r = await call(svc.url, 'DELETE', `/v1/elections/idle-e${i}/leaders/${c.body.token}`, {
        headers: { 'slotlock-secret': c.body.secret },
      });
      expect(r.status).toBe(204);
    }
    // Right after: one marker per name, and the check still knows the last released token.
    expect(await keyCount()).toBe(baseline + N_SLOTS + N_ELECTIONS);
    const first = released[0] as { slot: string; token: string };
    const fresh = await call(svc.url, 'GET', `/v1/slots/${first.slot}/tokens/${first.token}`);
    expect(fresh.body).toMatchObject({ current: false, highestToken: first.token });

    // Retention 2 s, bucket 1 s: every marker is gone within about 3 s (+ etcd's expiry tick).
    await expect.poll(keyCount, { timeout: 12_000, interval: 250 }).toBe(baseline);

    // The old token is still not current; a new grant's token is higher than any before.
    const later = await call(svc.url, 'GET', `/v1/slots/${first.slot}/tokens/${first.token}`);
    expect(later.status).toBe(200);
    expect(later.body).toMatchObject({ current: false, highestToken: null });
    const again = await call(svc.url, 'POST', `/v1/slots/${first.slot}/grants`, {
      body: { holder: 'h2', ttlSeconds: 30 },
    });
    expect(again.status).toBe(201);
    const last = released[released.length - 1] as { slot: string; token: string };
    expect(BigInt(again.body.token)).toBeGreaterThan(BigInt(last.token));
    await call(svc.url, 'DELETE', `/v1/slots/${first.slot}/grants/${again.body.token}`, {
      headers: { 'slotlock-secret': again.body.secret },
    });
  });
});
