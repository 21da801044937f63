/**
 * Fenced records stay bounded: a fenced delete, a TTL per record, and per-slot and per-principal
 * record and byte limits (507 storage_quota_exceeded, nothing written), counted in etcd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestService, type TestService } from '../../support/app.js';

const secretHeader = (secret: string) => ({ 'slotlock-secret': secret });

function client(svc: TestService) {
  let n = 0;
  return {
    async acquire(slot: string): Promise<{ token: string; secret: string }> {
      const r = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
        body: { holder: `h${++n}`, ttlSeconds: 30 },
      });
      expect(r.status).toBe(201);
      return { token: r.body.token, secret: r.body.secret };
    },
    async release(slot: string, g: { token: string; secret: string }) {
      const r = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
        headers: secretHeader(g.secret),
      });
      expect(r.status).toBe(204);
    },
    write(
      slot: string,
      record: string,
      g: { token: string; secret: string },
      value: string,
      ttlSeconds?: number,
    ) {
      return call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/${record}`, {
        body: { token: g.token, value, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
        headers: secretHeader(g.secret),
      });
    },
    remove(slot: string, record: string, g: { token: string; secret: string }) {
      return call(svc.url, 'DELETE', `/v1/slots/${slot}/fenced/${record}?token=${g.token}`, {
        headers: secretHeader(g.secret),
      });
    },
    read(slot: string, record: string) {
      return call(svc.url, 'GET', `/v1/slots/${slot}/fenced/${record}`);
    },
    /** Keys of the records and of the storage ledger (everything fenced storage keeps in etcd). */
    async storedKeys(): Promise<string[]> {
      const { keys } = svc.services;
      const [records, ledger] = await Promise.all([
        svc.services.store.range({ prefix: keys.fenced, keysOnly: true }),
        svc.services.store.range({ prefix: `${keys.prefix}q/f/`, keysOnly: true }),
      ]);
      return [...records.kvs, ...ledger.kvs].map(kv => kv.key).sort();
    },
  };
}

describe('fenced delete and TTL', () => {
  let svc: TestService;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    svc = await startTestService({ TTL_MAX_S: '60' });
    c = client(svc);
  });
  afterAll(async () => {
    await svc.close();
  });

  it('lets the holder delete a record, with its ledger entries; a stale holder cannot', async () => {
    const before = await c.storedKeys();
    const g1 = await c.acquire('fd-1');
    expect((await c.write('fd-1', 'r', g1, 'v1')).status).toBe(200);
    expect((await c.storedKeys()).length).toBe(before.length + 3);
    await c.release('fd-1', g1);
    const g2 = await c.acquire('fd-1');
    expect((await c.write('fd-1', 'r', g2, 'v2')).status).toBe(200);
    // The paused former holder may not delete what the newer holder wrote.
    const stale = await c.remove('fd-1', 'r', g1);
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('stale_token');
    const wrongSecret = await c.remove('fd-1', 'r', { token: g2.token, secret: g1.secret });
    expect([403, 409]).toContain(wrongSecret.status);
    expect((await c.read('fd-1', 'r')).body.value).toBe('v2');
    const gone = await c.remove('fd-1', 'r', g2);
    expect(gone.status).toBe(204);
    expect((await c.read('fd-1', 'r')).status).toBe(404);
    expect((await c.remove('fd-1', 'r', g2)).status).toBe(404);
    expect(await c.storedKeys()).toEqual(before);
    await c.release('fd-1', g2);
  });

  it('expires a record written with a TTL, ledger entries included', async () => {
    const before = await c.storedKeys();
    const g = await c.acquire('fd-ttl');
    const w = await c.write('fd-ttl', 'short', g, 'soon gone', 2);
    expect(w.status).toBe(200);
    expect(w.body.ttlSeconds).toBe(2);
    expect((await c.read('fd-ttl', 'short')).status).toBe(200);
    await expect
      .poll(async () => (await c.read('fd-ttl', 'short')).status, { timeout: 8000, interval: 200 })
      .toBe(404);
    expect(await c.storedKeys()).toEqual(before);
    // A TTL outside its range is bad input.
    const bad = await c.write('fd-ttl', 'x', g, 'v', 0);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].pointer).toBe('/body/ttlSeconds');
    await c.release('fd-ttl', g);
  });
});

describe('per-slot fenced storage limits', () => {
  let svc: TestService;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    svc = await startTestService({
      FENCED_SLOT_RECORDS_MAX: '3',
      FENCED_SLOT_BYTES_MAX: '2048',
      QUOTA_FENCED_RECORDS: '0',
      QUOTA_FENCED_BYTES: '0',
    });
    c = client(svc);
  });
  afterAll(async () => {
    await svc.close();
  });

  it('refuses a record past the slot record limit with 507, writing nothing', async () => {
    const g = await c.acquire('fs-n');
    for (const r of ['a', 'b', 'c']) expect((await c.write('fs-n', r, g, 'x')).status).toBe(200);
    const before = await c.storedKeys();
    const over = await c.write('fs-n', 'd', g, 'x');
    expect(over.status).toBe(507);
    expect(over.body).toMatchObject({
      code: 'storage_quota_exceeded',
      scope: 'slot',
      limit: 3,
      unit: 'records',
    });
    expect(await c.storedKeys()).toEqual(before);
    const refusals = await svc.services.metrics.limitRefusals.get();
    expect(refusals.values.find(v => v.labels.limit === 'fenced_slot')?.value).toBe(1);
    // Overwriting an existing record is not a new record; a delete makes room.
    expect((await c.write('fs-n', 'a', g, 'y')).status).toBe(200);
    expect((await c.remove('fs-n', 'a', g)).status).toBe(204);
    expect((await c.write('fs-n', 'd', g, 'x')).status).toBe(200);
    await c.release('fs-n', g);
  });

  it('refuses bytes past the slot byte limit, counting an overwrite by its difference', async () => {
    const g = await c.acquire('fs-b');
    expect((await c.write('fs-b', 'big', g, 'x'.repeat(1500))).status).toBe(200);
    const over = await c.write('fs-b', 'more', g, 'y'.repeat(600));
    expect(over.status).toBe(507);
    expect(over.body).toMatchObject({ scope: 'slot', unit: 'bytes', limit: 2048 });
    expect((await c.read('fs-b', 'more')).status).toBe(404);
    // Shrinking the big record makes room for the other.
    expect((await c.write('fs-b', 'big', g, 'x'.repeat(1000))).status).toBe(200);
    expect((await c.write('fs-b', 'more', g, 'y'.repeat(600))).status).toBe(200);
    await c.release('fs-b', g);
  });
});

describe('per-principal fenced storage quotas', () => {
  let svc: TestService;
  let c: ReturnType<typeof client>;
  beforeAll(async () => {
    svc = await startTestService({
      QUOTA_FENCED_RECORDS: '3',
      QUOTA_FENCED_BYTES: '4096',
    });
    c = client(svc);
  });
  afterAll(async () => {
    await svc.close();
  });

  it('counts a principal across slots: records, then bytes', async () => {
    const g1 = await c.acquire('fp-1');
    const g2 = await c.acquire('fp-2');
    expect((await c.write('fp-1', 'a', g1, 'x')).status).toBe(200);
    expect((await c.write('fp-1', 'b', g1, 'x')).status).toBe(200);
    expect((await c.write('fp-2', 'a', g2, 'x')).status).toBe(200);
    const over = await c.write('fp-2', 'b', g2, 'x');
    expect(over.status).toBe(507);
    expect(over.body).toMatchObject({
      code: 'storage_quota_exceeded',
      scope: 'principal',
      unit: 'records',
      limit: 3,
    });
    expect((await c.remove('fp-1', 'b', g1)).status).toBe(204);
    // Room for one more record, but not for 5000 bytes.
    const big = await c.write('fp-2', 'b', g2, 'z'.repeat(5000));
    expect(big.status).toBe(507);
    expect(big.body).toMatchObject({ scope: 'principal', unit: 'bytes', limit: 4096 });
    expect((await c.write('fp-2', 'b', g2, 'z'.repeat(4000))).status).toBe(200);
    await c.release('fp-1', g1);
    await c.release('fp-2', g2);
  });
});
