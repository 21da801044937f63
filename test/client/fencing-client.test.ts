import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencingClient, SlotClient, SlotlockError, StaleTokenError } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';

describe('FencingClient', () => {
  let svc: TestService;
  let slots: SlotClient;
  let fencing: FencingClient;
  beforeAll(async () => {
    svc = await startTestService();
    slots = new SlotClient({ url: svc.url });
    fencing = new FencingClient({ url: svc.url, retry: { retries: 0 } });
  });
  afterAll(async () => {
    await svc.close();
  });

  it('writes with a grant, reads the value back, and reads null for a record never written', async () => {
    const grant = await slots.acquire({ slot: 'fc/a', holder: 'w', ttlSeconds: 10 });
    try {
      const w = await fencing.fencedWrite({
        slot: 'fc/a',
        record: 'cursor',
        token: grant.token,
        secret: grant.secret,
        value: '{"n":1}',
      });
      expect(w).toMatchObject({ applied: true, token: grant.token });
      const r = await fencing.readFenced({ slot: 'fc/a', record: 'cursor' });
      expect(r).toMatchObject({ value: '{"n":1}', token: grant.token, revision: w.revision });
      expect(await fencing.readFenced({ slot: 'fc/a', record: 'other' })).toBeNull();
    } finally {
      await grant.release();
    }
  });

  it('throws StaleTokenError with the winning token for an ended grant', async () => {
    const old = await slots.acquire({ slot: 'fc/b', holder: 'old', ttlSeconds: 10 });
    await old.release();
    const next = await slots.acquire({ slot: 'fc/b', holder: 'next', ttlSeconds: 10 });
    try {
      const err = await fencing
        .fencedWrite({
          slot: 'fc/b',
          record: 'r',
          token: old.token,
          secret: old.secret,
          value: 'late',
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(StaleTokenError);
      expect(err).toBeInstanceOf(SlotlockError);
      const stale = err as StaleTokenError;
      expect(stale.code).toBe('stale_token');
      expect(stale.status).toBe(409);
      expect(stale.winningToken).toBe(next.token);
      expect(stale.currentHolderToken).toBe(next.token);
    } finally {
      await next.release();
    }
  });

  it('reports a stale token, and surfaces bad input as a typed error', async () => {
    const grant = await slots.acquire({ slot: 'fc/c', holder: 'w', ttlSeconds: 10 });
    try {
      await fencing.reportStale({
        slot: 'fc/c',
        token: grant.token,
        highestSeen: grant.token,
        resource: 'orders-db',
      });
      const m = await svc.services.metrics.staleTokens.get();
      expect(m.values.find(v => v.labels.source === 'report')?.value).toBe(1);
      await expect(
        fencing.reportStale({ slot: 'fc/c', token: grant.token, highestSeen: '1', resource: 'db' }),
      ).rejects.toMatchObject({ code: 'invalid_input', status: 400 });
    } finally {
      await grant.release();
    }
  });
});
