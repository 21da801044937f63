import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretFromIdempotencyKey } from '../../../src/domain/secrets.js';
import { call, startTestService, type TestService } from '../../support/app.js';

describe('fencing API', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ TTL_MAX_S: '60' });
  });
  afterAll(async () => {
    await svc.close();
  });

  let n = 0;
  const freshSlot = () => `fenced:${++n}`;

  async function acquire(slot: string, capacity = 1): Promise<{ token: string; secret: string }> {
    const r = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: `h${n}`, ttlSeconds: 30, capacity },
    });
    expect(r.status).toBe(201);
    return { token: r.body.token, secret: r.body.secret };
  }

  function write(slot: string, record: string, body: unknown, secret: string) {
    return call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/${record}`, {
      body,
      headers: { 'slotlock-secret': secret },
    });
  }

  async function counter(name: 'staleTokens' | 'fencedWrites', label: string): Promise<number> {
    const m = await svc.services.metrics[name].get();
    return m.values
      .filter(v => Object.values(v.labels).includes(label))
      .reduce((sum, v) => sum + v.value, 0);
  }

  async function storedKeys(slot: string): Promise<number> {
    const res = await svc.services.store.range({ prefix: `${svc.services.keys.fenced}${slot}#` });
    return res.kvs.length;
  }

  it('applies a holder write and reads it back with the token that wrote it', async () => {
    const slot = freshSlot();
    const g = await acquire(slot);
    const applied = await counter('fencedWrites', 'applied');
    const w = await write(slot, 'assignment', { token: g.token, value: 'order-1' }, g.secret);
    expect(w.status).toBe(200);
    expect(w.body).toMatchObject({ slot, record: 'assignment', token: g.token, applied: true });
    expect(BigInt(w.body.revision)).toBeGreaterThan(BigInt(g.token));
    const r = await call(svc.url, 'GET', `/v1/slots/${slot}/fenced/assignment`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      slot,
      record: 'assignment',
      value: 'order-1',
      token: g.token,
      revision: w.body.revision,
    });
    expect(await counter('fencedWrites', 'applied')).toBe(applied + 1);
  });

  it('answers 404 for a record never written', async () => {
    const r = await call(svc.url, 'GET', `/v1/slots/${freshSlot()}/fenced/nothing`);
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('not_found');
  });

  it('rejects a lower token after a higher one wrote, naming the winning token', async () => {
    const slot = freshSlot();
    const low = await acquire(slot, 2);
    const high = await acquire(slot, 2);
    expect(BigInt(high.token)).toBeGreaterThan(BigInt(low.token));
    const stale = await counter('staleTokens', 'store');
    const rejected = await counter('fencedWrites', 'rejected');
    expect((await write(slot, 'r', { token: high.token, value: 'new' }, high.secret)).status).toBe(
      200,
    );
    const w = await write(slot, 'r', { token: low.token, value: 'old' }, low.secret);
    expect(w.status).toBe(409);
    expect(w.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(w.body).toMatchObject({
      code: 'stale_token',
      type: 'urn:slotlock:problem:stale_token',
      token: low.token,
      winningToken: high.token,
      currentHolderToken: high.token,
    });
    expect(w.body.detail).toContain(`already written with token ${high.token}`);
    const r = await call(svc.url, 'GET', `/v1/slots/${slot}/fenced/r`);
    expect(r.body).toMatchObject({ value: 'new', token: high.token });
    expect(await counter('staleTokens', 'store')).toBe(stale + 1);
    expect(await counter('fencedWrites', 'rejected')).toBe(rejected + 1);
  });

  it('rejects a write from a grant that ended once a newer grant exists', async () => {
    const slot = freshSlot();
    const old = await acquire(slot);
    const released = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${old.token}`, {
      headers: { 'slotlock-secret': old.secret },
    });
    expect(released.status).toBe(204);
    const next = await acquire(slot);
    const w = await write(slot, 'r', { token: old.token, value: 'late' }, old.secret);
    expect(w.status).toBe(409);
    expect(w.body).toMatchObject({
      code: 'stale_token',
      winningToken: next.token,
      currentHolderToken: next.token,
    });
    expect(await storedKeys(slot)).toBe(0);
  });

  it('answers grant_gone for an ended grant when no newer token exists', async () => {
    const slot = freshSlot();
    const g = await acquire(slot);
    await svc.services.store.txn({
      compare: [],
      success: [{ delete: { prefix: svc.services.keys.slots + slot + '#' } }],
    });
    const w = await write(slot, 'r', { token: g.token, value: 'v' }, g.secret);
    expect(w.status).toBe(410);
    expect(w.body.code).toBe('grant_gone');
    expect(await storedKeys(slot)).toBe(0);
  });

  it('answers 403 not_holder to a wrong secret and to a waiter that is not yet granted', async () => {
    const slot = freshSlot();
    const g = await acquire(slot);
    const rejected = await counter('fencedWrites', 'rejected');
    const wrong = await write(slot, 'r', { token: g.token, value: 'v' }, 'not-the-secret');
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('not_holder');

    const key = randomUUID();
    const waiting = fetch(`${svc.url}/v1/slots/${slot}/grants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ holder: 'waiter', ttlSeconds: 30, waitMs: 20_000 }),
      signal: AbortSignal.timeout(25_000),
    });
    let pos = await call(svc.url, 'GET', `/v1/slots/${slot}/queue`, {
      headers: { 'idempotency-key': key },
    });
    for (let i = 0; pos.status === 404 && i < 200; i++) {
      // The long-poll's key appears once its acquire transaction commits.
      await new Promise(resolve => setImmediate(resolve));
      pos = await call(svc.url, 'GET', `/v1/slots/${slot}/queue`, {
        headers: { 'idempotency-key': key },
      });
    }
    expect(pos.body).toMatchObject({ position: 1, holding: false });
    const early = await write(
      slot,
      'r',
      { token: pos.body.token, value: 'v' },
      secretFromIdempotencyKey(key, slot),
    );
    expect(early.status).toBe(403);
    expect(early.body.detail).toContain('still waiting');
    expect(await counter('fencedWrites', 'rejected')).toBe(rejected + 2);
    expect(await storedKeys(slot)).toBe(0);

    await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.token}`, {
      headers: { 'slotlock-secret': g.secret },
    });
    const granted = await waiting;
    expect(granted.status).toBe(201);
  });

  it('applies concurrent writes with the same token, each once, last revision wins', async () => {
    const slot = freshSlot();
    const g = await acquire(slot);
    const writes = await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map(value =>
        write(slot, 'r', { token: g.token, value }, g.secret),
      ),
    );
    expect(writes.map(w => w.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const revisions = writes.map(w => BigInt(w.body.revision));
    expect(new Set(revisions).size).toBe(6);
    const last = writes.reduce((a, b) =>
      BigInt(a.body.revision) > BigInt(b.body.revision) ? a : b,
    );
    const r = await call(svc.url, 'GET', `/v1/slots/${slot}/fenced/r`);
    expect(r.body.revision).toBe(last.body.revision);
    expect(['a', 'b', 'c', 'd', 'e', 'f'][writes.indexOf(last)]).toBe(r.body.value);
  });

  it('never lets a lower token overwrite a higher one under concurrent writers', async () => {
    const slot = freshSlot();
    const low = await acquire(slot, 2);
    const high = await acquire(slot, 2);
    const writes = await Promise.all(
      Array.from({ length: 4 }, (_, i) => [
        write(slot, 'r', { token: low.token, value: `low${i}` }, low.secret),
        write(slot, 'r', { token: high.token, value: `high${i}` }, high.secret),
      ]).flat(),
    );
    for (const w of writes) expect([200, 409]).toContain(w.status);
    const r = await call(svc.url, 'GET', `/v1/slots/${slot}/fenced/r`);
    expect(r.body.token).toBe(high.token);
    expect(r.body.value).toMatch(/^high/);
    const firstHigh = Math.min(
      ...writes
        .filter(w => w.status === 200 && w.body.token === high.token)
        .map(w => Number(w.body.revision)),
    );
    for (const w of writes.filter(x => x.status === 200 && x.body.token === low.token)) {
      expect(Number(w.body.revision)).toBeLessThan(firstHigh);
    }
  });

  describe('bad input writes nothing', () => {
    const slot = 'fenced:bad';
    let g: { token: string; secret: string };
    beforeAll(async () => {
      g = await acquire(slot);
    });

    const cases: { name: string; body: () => unknown; status: number; pointer: string }[] = [
      {
        name: 'a missing token',
        body: () => ({ value: 'v' }),
        status: 400,
        pointer: '/body/token',
      },
      {
        name: 'a non-numeric token',
        body: () => ({ token: 'abc', value: 'v' }),
        status: 400,
        pointer: '/body/token',
      },
      {
        name: 'a numeric (not string) token',
        body: () => ({ token: Number(g.token), value: 'v' }),
        status: 400,
        pointer: '/body/token',
      },
      {
        name: 'a token with a leading zero',
        body: () => ({ token: `0${g.token}`, value: 'v' }),
        status: 400,
        pointer: '/body/token',
      },
      {
        name: 'a token from the future',
        body: () => ({ token: (BigInt(g.token) + 1_000_000n).toString(), value: 'v' }),
        status: 400,
        pointer: '/body/token',
      },
      {
        name: 'an unknown field',
        body: () => ({ token: g.token, value: 'v', force: true }),
        status: 400,
        pointer: '/body/force',
      },
      {
        name: 'a missing value',
        body: () => ({ token: g.token }),
        status: 400,
        pointer: '/body/value',
      },
      {
        name: 'a value over 64 KiB',
        body: () => ({ token: g.token, value: 'x'.repeat(64 * 1024 + 1) }),
        status: 413,
        pointer: '/body/value',
      },
    ];
    for (const c of cases) {
      it(`rejects ${c.name}`, async () => {
        const w = await write(slot, 'r', c.body(), g.secret);
        expect(w.status).toBe(c.status);
        expect(w.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(w.body.errors?.[0]?.pointer).toBe(c.pointer);
        expect(await storedKeys(slot)).toBe(0);
      });
    }

    it('rejects a body over the route limit, a bad record name and a missing secret', async () => {
      const huge = await write(slot, 'r', { token: g.token, value: 'x'.repeat(500_000) }, g.secret);
      expect(huge.status).toBe(413);
      expect(huge.body.code).toBe('payload_too_large');
      const badName = await write(slot, 'a%23b', { token: g.token, value: 'v' }, g.secret);
      expect(badName.status).toBe(400);
      expect(badName.body.errors[0].pointer).toBe('/params/record');
      const noSecret = await call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/r`, {
        body: { token: g.token, value: 'v' },
      });
      expect(noSecret.status).toBe(400);
      expect(noSecret.body.errors[0].pointer).toBe('/headers/slotlock-secret');
      expect(await storedKeys(slot)).toBe(0);
    });

    it('accepts a value of exactly 64 KiB', async () => {
      const w = await write(
        slot,
        'big',
        { token: g.token, value: 'é'.repeat(32 * 1024) },
        g.secret,
      );
      expect(w.status).toBe(200);
    });
  });

  describe('stale reports', () => {
    it('accepts a report with 202 and counts it under source="report"', async () => {
      const slot = freshSlot();
      const g = await acquire(slot);
      const before = await counter('staleTokens', 'report');
      const r = await call(svc.url, 'POST', `/v1/slots/${slot}/stale-reports`, {
        body: { token: g.token, highestSeen: g.token, resource: 'orders-db' },
      });
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ slot, token: g.token, resource: 'orders-db' });
      expect(await counter('staleTokens', 'report')).toBe(before + 1);
      const series = await svc.services.metrics.staleTokens.get();
      for (const v of series.values) expect(Object.keys(v.labels)).toEqual(['source']);
    });

    it('rejects bad reports without counting them', async () => {
      const slot = freshSlot();
      const g = await acquire(slot);
      const before = await counter('staleTokens', 'report');
      const future = (BigInt(g.token) + 1_000_000n).toString();
      const bad = [
        { token: g.token, highestSeen: '1', resource: 'db' },
        { token: g.token, highestSeen: future, resource: 'db' },
        { token: g.token, highestSeen: g.token, resource: 'x'.repeat(65) },
        { token: g.token, highestSeen: g.token, resource: 'has space' },
        { token: g.token, highestSeen: g.token },
        { token: g.token, highestSeen: g.token, resource: 'db', extra: 1 },
      ];
      for (const body of bad) {
        const r = await call(svc.url, 'POST', `/v1/slots/${slot}/stale-reports`, { body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.code).toBe('invalid_input');
      }
      expect(await counter('staleTokens', 'report')).toBe(before);
    });
  });
});
