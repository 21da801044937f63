import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';
import { readHistory, replayHolders } from '../../support/history.js';

/** Contender keys and bundle index keys left in etcd under this service's prefix. */
async function contenders(svc: TestService, slot: string): Promise<string[]> {
  return svc.client.getAll().prefix(`${svc.services.keys.slots}${slot}#h/`).keys();
}

/** Slot views and the status page never show a partial bundle grant. */
describe('bundles in slot views', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  const bundle = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call(svc.url, 'POST', '/v1/bundles', {
      body: { holder: 'dispatcher', ttlSeconds: 10, ...body },
      headers,
      timeoutMs: 30_000,
    });
  const grant = (slot: string, body: Record<string, unknown> = {}) =>
    call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'single', ttlSeconds: 10, ...body },
      timeoutMs: 30_000,
    });
  const releaseGrant = (slot: string, g: { token: string; secret: string }) =>
    call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
      headers: { 'slotlock-secret': g.secret },
    });
  const releaseBundle = (b: { token: string; secret: string }) =>
    call(svc.url, 'DELETE', `/v1/bundles/${b.token}`, {
      headers: { 'slotlock-secret': b.secret },
    });
  const slots = (...names: string[]) => names.map(slot => ({ slot }));

  it('shows a bundle that reached one slot but not another as reserving a place, never as a holder', async () => {
    const holder = await grant('t8-b');
    const pending = bundle({ holder: 'both', slots: slots('t8-a', 't8-b'), waitMs: 10_000 });
    await expect
      .poll(async () => (await contenders(svc, 't8-b')).length, { timeout: 5000 })
      .toBe(2);
    const a = await call(svc.url, 'GET', '/v1/slots/t8-a');
    expect(a.body.holders).toEqual([]);
    expect(a.body.reservedByBundles).toEqual([
      expect.objectContaining({
        holder: 'both',
        bundle: expect.objectContaining({ slots: ['t8-a', 't8-b'] }),
      }),
    ]);
    expect(a.body.waiting).toBe(1);
    // Its token is not current in "t8-a" either, while it waits for "t8-b".
    const waitingToken = a.body.reservedByBundles[0].token as string;
    const early = await call(svc.url, 'GET', `/v1/slots/t8-a/tokens/${waitingToken}`);
    expect(early.body.current).toBe(false);
    const b = await call(svc.url, 'GET', '/v1/slots/t8-b');
    expect(b.body.holders.map((h: { token: string }) => h.token)).toEqual([holder.body.token]);
    expect(b.body.waiting).toBe(1);
    expect((await releaseGrant('t8-b', holder.body)).status).toBe(204);
    const granted = await pending;
    expect(granted.status).toBe(201);
    for (const slot of ['t8-a', 't8-b']) {
      const view = await call(svc.url, 'GET', `/v1/slots/${slot}`);
      expect(view.body.reservedByBundles).toEqual([]);
      expect(view.body.holders).toEqual([
        expect.objectContaining({
          token: granted.body.token,
          bundle: { id: granted.body.bundle, slots: ['t8-a', 't8-b'] },
        }),
      ]);
    }
    const check = await call(svc.url, 'GET', `/v1/slots/t8-a/tokens/${granted.body.token}`);
    expect(check.body.current).toBe(true);
    // The status page's data shows the bundle holder as such.
    const status = await call(svc.url, 'GET', '/v1/status');
    const row = status.body.slots.items.find((x: { slot: string }) => x.slot === 't8-a');
    expect(row.holders).toEqual([
      expect.objectContaining({ token: granted.body.token, bundle: expect.anything() }),
    ]);
  });

  it('never shows a bundle as a holder of one slot while it has not reached the head of another', async () => {
    const start = (await svc.client.get('\0').exec()).header.revision;
    const granted = new Set<string>();
    const shown = new Set<string>();
    let reservedSeen = 0;
    let stop = false;
    // A single holder keeps taking "t9-b" for a while; bundles {t9-a, t9-b} with short waits often
    // reach the head of "t9-a" and then time out waiting for "t9-b".
    const single = async () => {
      for (let i = 0; i < 8; i++) {
        const g = await grant('t9-b', { waitMs: 5000 });
        await new Promise(resolve => setTimeout(resolve, 60));
        await releaseGrant('t9-b', g.body);
      }
    };
    const bundler = async () => {
      while (!stop) {
        const b = await bundle({ slots: slots('t9-a', 't9-b'), waitMs: 40 });
        if (b.status === 201) {
          granted.add(b.body.token);
          await releaseBundle(b.body);
        }
      }
    };
    const watcher = async () => {
      while (!stop) {
        const view = await call(svc.url, 'GET', '/v1/slots/t9-a');
        for (const h of view.body.holders) if (h.bundle !== undefined) shown.add(h.bundle.id);
        reservedSeen += (view.body.reservedByBundles as unknown[]).length;
      }
    };
    const running = [bundler(), bundler(), watcher()];
    await single();
    stop = true;
    await Promise.all(running);
    expect(reservedSeen).toBeGreaterThan(0);
    expect(granted.size).toBeGreaterThan(0);
    // etcd's own history of "t9-b": every bundle shown holding "t9-a" reached the head there too.
    const prefix = `${svc.services.keys.slots}t9-b#h/`;
    const members = [...shown].map(id => `${prefix}b.${id}`);
    const events = await readHistory(svc.client, prefix, (BigInt(start) + 1n).toString(), {
      gone: members,
    });
    const { firstHeldAt } = replayHolders(events, prefix, 1);
    expect(members.filter(k => !firstHeldAt.has(k))).toEqual([]);
  }, 40_000);
});
