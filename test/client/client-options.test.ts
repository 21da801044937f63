import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoss, isSlotlockError, SlotClient, SlotlockError } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { revokeLeaseOf } from './etcd-probe.js';
import { recordingFetch } from './helpers.js';

describe('client options and holder helpers', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('rejects a URL without an http(s) scheme at construction, naming the fix', () => {
    const make = () => new SlotClient({ url: 'localhost:8080' });
    expect(make).toThrow(SlotlockError);
    expect(make).toThrow(
      /must start with http:\/\/ or https:\/\/ \(e\.g\. http:\/\/localhost:8080\)/,
    );
    try {
      make();
    } catch (err) {
      expect(isSlotlockError(err, 'invalid_options')).toBe(true);
    }
  });

  it('takes the URL from SLOTLOCK_URL when none is given, and fails without either', async () => {
    const saved = process.env.SLOTLOCK_URL;
    try {
      process.env.SLOTLOCK_URL = svc.url;
      const list = await new SlotClient({}).list();
      expect(list.slots).toEqual([]);
      delete process.env.SLOTLOCK_URL;
      expect(() => new SlotClient({})).toThrow(/SLOTLOCK_URL/);
    } finally {
      if (saved === undefined) delete process.env.SLOTLOCK_URL;
      else process.env.SLOTLOCK_URL = saved;
    }
  });

  it('sends the holder secret in Slotlock-Secret and the credential in Authorization', async () => {
    const rec = recordingFetch();
    const slots = new SlotClient({ url: svc.url, fetch: rec.fetch, credential: () => 'key-1' });
    const grant = await slots.acquire({ slot: 'hdr/a', holder: 'h', ttlSeconds: 5 });
    await grant.release();
    const release = rec.sent.find(s => s.method === 'DELETE');
    expect(release?.headers['slotlock-secret']).toBe(grant.secret);
    expect(release?.headers.authorization).toBe('Bearer key-1');
    expect(rec.sent.every(s => s.headers.authorization === 'Bearer key-1')).toBe(true);
  });

  it('reports expiresInMs in whole ms, calls onLost, and assertHeld throws once lost', async () => {
    const slots = new SlotClient({ url: svc.url, retry: { baseMs: 20 } });
    const grant = await slots.acquire({ slot: 'lost/a', holder: 'h', ttlSeconds: 10 });
    expect(Number.isInteger(grant.expiresInMs())).toBe(true);
    expect(grant.expiresInMs()).toBeGreaterThan(5_000);
    expect(() => {
      grant.assertHeld();
    }).not.toThrow();
    const lost = new Promise<SlotlockError>(resolve => grant.onLost(resolve));
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, grant.token);
    // The next keepalive learns the loss: TTL/3 at most.
    const reason = await lost;
    expect(reason.code).toBe('grant_gone');
    expect(isLoss(reason)).toBe(true);
    expect(() => {
      grant.assertHeld();
    }).toThrow(reason);
    // A listener added after the loss is called too.
    const late = await new Promise<SlotlockError>(resolve => grant.onLost(resolve));
    expect(late).toBe(reason);
    await grant.release();
  });
});
