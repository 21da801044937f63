import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleClient, isSlotlockError, SlotClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';

describe('BundleClient', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('takes every slot together, keeps the bundle alive and releases all of it', async () => {
    const bundles = new BundleClient({ url: svc.url });
    const slots = new SlotClient({ url: svc.url });
    const bundle = await bundles.acquire({
      slots: ['bc-driver', { slot: 'bc-zone', capacity: 2 }],
      holder: 'dispatcher',
      ttlSeconds: 2,
    });
    expect(bundle.slots.map(s => s.token)).toEqual([bundle.token, bundle.token]);
    // Outlives its TTL through the background keepalive.
    await new Promise(resolve => setTimeout(resolve, 2500));
    expect(bundle.signal.aborted).toBe(false);
    expect((await slots.inspect('bc-zone')).holders.map(h => h.token)).toEqual([bundle.token]);
    const busy = await bundles
      .acquire({ slots: ['bc-driver', 'bc-other'], holder: 'late' })
      .catch((err: unknown) => err);
    expect(isSlotlockError(busy, 'slot_busy')).toBe(true);
    await bundle.release();
    expect(bundle.signal.aborted).toBe(true);
    expect((await slots.inspect('bc-driver')).holders).toEqual([]);
    const after = await bundles.withBundle(
      { slots: ['bc-driver', 'bc-other'], holder: 'late' },
      async b => {
        expect((await slots.inspect('bc-other')).holders.map(h => h.token)).toEqual([b.token]);
        return b.token;
      },
    );
    expect(BigInt(after)).toBeGreaterThan(BigInt(bundle.token));
  }, 20_000);
});
