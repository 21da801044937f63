import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Elections, Leadership } from '../../../src/domain/elections/elections.js';
import type { LeaderState } from '../../../src/domain/elections/leader-state.js';
import { openWatchCalls } from '../../../src/etcd/watch-call.js';
import { etcdCalls, startTestService, type TestService } from '../../support/app.js';

/** Pulls states from an observation one at a time, each bounded in time. */
function reader(it: AsyncIterator<LeaderState>) {
  return async (timeoutMs = 10_000): Promise<LeaderState> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no state within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      const r = await Promise.race([it.next(), timeout]);
      if (r.done === true) throw new Error('the observation ended');
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
}

describe('Elections.observe', () => {
  let svc: TestService;
  let elections: Elections;
  const watchers = () => openWatchCalls();
  const stand = (name: string, candidate: string, value = '') =>
    elections.campaign(name, { candidate, value, ttlS: 30, waitMs: 0 });
  const resign = (name: string, l: Leadership) => elections.resign(name, l.token, l.secret);
  /** Waits (bounded) until `name` has `n` candidates in etcd: a waiting campaign has queued. */
  const queued = async (name: string, n: number) => {
    const deadline = performance.now() + 5000;
    for (;;) {
      const r = await svc.services.store.range({
        prefix: elections.space.contenders(name),
        countOnly: true,
      });
      if (r.count === n) return;
      if (performance.now() > deadline) throw new Error(`${name} never had ${n} candidates`);
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  };

  beforeAll(async () => {
    svc = await startTestService();
    elections = svc.services.elections;
  });
  afterAll(async () => {
    await svc.close();
  });

  it('yields the current state, then each change of leader or value, then null', async () => {
    const abort = new AbortController();
    const a = await stand('o1', 'a', 'va');
    const next = reader(elections.observe('o1', { signal: abort.signal }));
    const first = await next();
    expect(first.leader).toMatchObject({ candidate: 'a', value: 'va', token: a.token });
    expect(first.leader?.expiresInMs).toBeGreaterThan(0);

    await elections.proclaim('o1', a.token, a.secret, 'va2');
    const proclaimed = await next();
    expect(proclaimed.leader).toMatchObject({ value: 'va2', token: a.token });
    expect(BigInt(proclaimed.revision)).toBeGreaterThan(BigInt(first.revision));

    const waiting = elections.campaign('o1', {
      candidate: 'b',
      value: 'vb',
      ttlS: 30,
      waitMs: 20_000,
    });
    await queued('o1', 2);
    await resign('o1', a);
    const b = await waiting;
    const second = await next();
    expect(second.leader).toMatchObject({ candidate: 'b', value: 'vb', token: b.token });
    // The candidacy of b (a put behind the leader) produced no state of its own.
    expect(BigInt(second.leader?.token ?? '0')).toBeGreaterThan(BigInt(a.token));

    await resign('o1', b);
    expect((await next()).leader).toBeNull();
    abort.abort();
  });

  it('replays every change after fromRevision, in revision order, then follows live', async () => {
    const start = await svc.services.store.revision();
    const a = await stand('o2', 'a', '1');
    await elections.proclaim('o2', a.token, a.secret, '2');
    await resign('o2', a);
    const c = await stand('o2', 'c', '3');
    const abort = new AbortController();
    const next = reader(elections.observe('o2', { fromRevision: start, signal: abort.signal }));
    const states = [await next(), await next(), await next(), await next()];
    expect(states.map(s => s.leader?.value ?? null)).toEqual(['1', '2', null, '3']);
    expect(states[0]?.revision).toBe(a.token);
    for (let i = 1; i < states.length; i++) {
      expect(BigInt(states[i]?.revision ?? '0')).toBeGreaterThan(
        BigInt(states[i - 1]?.revision ?? '0'),
      );
    }
    // A resigned leader's state in the replay shows its lease as gone.
    expect(states[0]?.leader?.expiresInMs).toBe(0);
    await resign('o2', c);
    expect((await next()).leader).toBeNull();
    abort.abort();
  });

  it('starts from the current state when fromRevision is not in etcd history', async () => {
    const a = await stand('o3', 'a');
    const abort = new AbortController();
    const next = reader(
      elections.observe('o3', { fromRevision: '9000000000000', signal: abort.signal }),
    );
    expect((await next()).leader?.token).toBe(a.token);
    abort.abort();
    await resign('o3', a);
  });

  it('ends without error when its signal aborts, and cancels its watch', async () => {
    const idle = watchers();
    const abort = new AbortController();
    const it = elections.observe('o4', { signal: abort.signal });
    const next = reader(it);
    expect((await next()).leader).toBeNull();
    // The watch starts (from the read's revision + 1) when the next state is asked for.
    const pending = it.next();
    for (let i = 0; watchers() === idle && i < 200; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(watchers()).toBe(idle + 1);
    abort.abort();
    expect((await pending).done).toBe(true);
    expect(watchers()).toBe(idle);
  });

  it('cancels its watch when the consumer stops iterating', async () => {
    const idle = watchers();
    for await (const state of elections.observe('o5')) {
      expect(state.leader).toBeNull();
      break;
    }
    expect(watchers()).toBe(idle);
  });
});

describe('Elections.leader', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('never reports a candidate whose lease is gone, and term tokens only grow', async () => {
    const e = svc.services.elections;
    const tokens: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const l = await e.campaign('lead', { candidate: `c${i}`, value: '', ttlS: 30, waitMs: 0 });
      tokens.push(BigInt(l.token));
      expect((await e.leader('lead')).leader?.token).toBe(l.token);
      const head = await svc.services.store.range({ prefix: e.space.contenders('lead') });
      await svc.client.leaseClient.leaseRevoke({ ID: head.kvs[0]?.lease ?? '' });
      expect((await e.leader('lead')).leader).toBeNull();
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0] ?? 0n);
    expect(tokens[2]).toBeGreaterThan(tokens[1] ?? 0n);
  });

  it('answers not_leader in try mode and wait_timeout after a wait, worded for elections', async () => {
    const e = svc.services.elections;
    const a = await e.campaign('busy', { candidate: 'a', value: '', ttlS: 30, waitMs: 0 });
    await expect(
      e.campaign('busy', { candidate: 'b', value: '', ttlS: 30, waitMs: 0 }),
    ).rejects.toMatchObject({
      code: 'not_leader',
      message: expect.stringContaining('election "busy"'),
    });
    await expect(
      e.campaign('busy', { candidate: 'b', value: '', ttlS: 30, waitMs: 200 }),
    ).rejects.toMatchObject({ code: 'wait_timeout' });
    await e.resign('busy', a.token, a.secret);
  });

  it("asks etcd once, not once per observer, for the new leader's time left", async () => {
    const elections = svc.services.elections;
    const stand = (name: string, candidate: string) =>
      elections.campaign(name, { candidate, value: '', ttlS: 30, waitMs: 0 });
    const resign = (name: string, l: Leadership) => elections.resign(name, l.token, l.secret);
    const abort = new AbortController();
    // Twenty observers share this one signal on purpose (each SSE request has its own in the
    // service): each adds a listener while it reads, which is not a leak.
    setMaxListeners(64, abort.signal);
    try {
      const a = await stand('herd', 'a');
      const observers = Array.from({ length: 20 }, () =>
        reader(elections.observe('herd', { signal: abort.signal })),
      );
      for (const state of await Promise.all(observers.map(next => next()))) {
        expect(state.leader?.candidate).toBe('a');
      }
      const before = await etcdCalls(svc, 'lease_ttl');
      await resign('herd', a);
      const c = await stand('herd', 'c');
      // Every observer (each consumed on its own, as every SSE stream is) sees c with its time left.
      const seen = await Promise.all(
        observers.map(async next => {
          let state = await next();
          if (state.leader === null) state = await next();
          return state;
        }),
      );
      for (const state of seen) {
        expect(state.leader?.candidate).toBe('c');
        expect(state.leader?.expiresInMs).toBeGreaterThan(0);
      }
      expect((await etcdCalls(svc, 'lease_ttl')) - before).toBeLessThanOrEqual(2);
      await resign('herd', c);
    } finally {
      abort.abort();
    }
  });
});
