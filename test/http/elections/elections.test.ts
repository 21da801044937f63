import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWatchCalls } from '../../../src/etcd/watch-call.js';
import { call, startTestService, type TestService } from '../../support/app.js';

interface LeadershipBody {
  election: string;
  token: string;
  secret: string;
  candidate: string;
  value: string;
  ttlSeconds: number;
  expiresInMs: number;
  waited: boolean;
}
interface LeaderBody {
  election: string;
  leader: { candidate: string; value: string; token: string; expiresInMs: number } | null;
  revision: string;
}
interface ProblemBody {
  code: string;
  detail: string;
}
interface SseEvent {
  event: string;
  id: string | undefined;
  data: LeaderBody;
}

/** A minimal text/event-stream reader over fetch: events in order, awaited one at a time. */
class SseReader {
  readonly events: SseEvent[] = [];
  status = 0;
  headers = new Headers();
  comments: string[] = [];
  ended = false;
  private read = 0;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();

  async open(url: string, headers: Record<string, string> = {}): Promise<this> {
    const res = await fetch(url, { headers, signal: this.abort.signal });
    this.status = res.status;
    this.headers = res.headers;
    void this.pump(res).catch(() => undefined);
    return this;
  }

  /** The next event not yet returned, waiting at most `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = performance.now() + timeoutMs;
    while (this.events.length <= this.read) {
      if (this.ended) throw new Error('the stream ended');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const e = this.events[this.read++];
    if (e === undefined) throw new Error('unreachable');
    return e;
  }

  /** Waits until the server ends the stream. */
  async end(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.ended) {
      if (performance.now() > deadline) throw new Error('the stream did not end');
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, 50);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(res: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body ?? []) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          this.parse(buffer.slice(0, at));
          buffer = buffer.slice(at + 2);
        }
      }
    } finally {
      this.ended = true;
      this.wake?.();
    }
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length === 0) return;
    this.events.push({ event, id, data: JSON.parse(data.join('\n')) as LeaderBody });
    this.wake?.();
  }
}

describe('elections API', () => {
  let svc: TestService;
  const timings = { handoverMs: [] as number[] };

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    if (timings.handoverMs.length > 0) {
      console.log(`handover after resign (ms): ${timings.handoverMs.map(Math.round).join(', ')}`);
    }
    await svc.close();
  });

  const campaign = async (name: string, body: Record<string, unknown>, signal?: AbortSignal) =>
    call(svc.url, 'POST', `/v1/elections/${encodeURIComponent(name)}/campaign`, {
      body,
      ...(signal === undefined ? {} : { signal }),
    });
  const leader = async (name: string) =>
    (await call(svc.url, 'GET', `/v1/elections/${encodeURIComponent(name)}/leader`))
      .body as LeaderBody;
  const resign = async (name: string, l: LeadershipBody) =>
    call(svc.url, 'DELETE', `/v1/elections/${encodeURIComponent(name)}/leaders/${l.token}`, {
      headers: { 'slotlock-secret': l.secret },
    });
  const keys = async () =>
    (await svc.client.getAll().prefix(svc.config.ETCD_PREFIX).keys()).filter(k =>
      k.includes('#h/'),
    );
  /** Polls etcd until `check` holds (bounded): withdrawals revoke leases asynchronously. */
  const eventually = async (check: () => Promise<boolean>, timeoutMs = 5000) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error('condition not met in time');
      await new Promise(resolve => setTimeout(resolve, 25));
    }
  };
  const contenders = async (name: string) =>
    (await keys()).filter(k => k.startsWith(`${svc.services.keys.elections}${name}#h/`)).length;
  const metric = async (name: string) =>
    svc.services.metrics.registry.getSingleMetricAsString(name);

  it('campaigns, reports the leader, proclaims a value and resigns (round trip)', async () => {
    const name = 'dispatch/eu';
    const c = await campaign(name, { candidate: 'w1', value: 'http://w1', ttlSeconds: 5 });
    expect(c.status).toBe(201);
    const l = c.body as LeadershipBody;
    expect(l).toMatchObject({ election: name, candidate: 'w1', value: 'http://w1', waited: false });
    expect(l.token).toMatch(/^[1-9][0-9]*$/);
    expect(l.expiresInMs).toBeGreaterThan(0);
    expect(l.expiresInMs).toBeLessThanOrEqual(5000);
    expect(c.headers.get('location')).toBe(`/v1/elections/dispatch%2Feu/leaders/${l.token}`);

    const seen = await leader(name);
    expect(seen.leader).toMatchObject({ candidate: 'w1', value: 'http://w1', token: l.token });
    expect(BigInt(seen.revision)).toBeGreaterThanOrEqual(BigInt(l.token));

    const p = await call(svc.url, 'PUT', `/v1/elections/dispatch%2Feu/leaders/${l.token}/value`, {
      body: { value: 'http://w1:8081' },
      headers: { 'slotlock-secret': l.secret },
    });
    expect(p.status).toBe(200);
    expect(p.body).toEqual({ election: name, token: l.token, value: 'http://w1:8081' });
    expect((await leader(name)).leader?.value).toBe('http://w1:8081');

    const k = await call(
      svc.url,
      'POST',
      `/v1/elections/dispatch%2Feu/leaders/${l.token}/keepalive`,
      {
        headers: { 'slotlock-secret': l.secret },
      },
    );
    expect(k.status).toBe(200);
    expect(k.body).toMatchObject({ election: name, token: l.token, ttlSeconds: 5 });

    expect((await resign(name, l)).status).toBe(204);
    expect((await leader(name)).leader).toBeNull();
    const again = await call(
      svc.url,
      'POST',
      `/v1/elections/dispatch%2Feu/leaders/${l.token}/keepalive`,
      {
        headers: { 'slotlock-secret': l.secret },
      },
    );
    expect(again.status).toBe(410);
    expect((again.body as ProblemBody).code).toBe('grant_gone');
  });

  it('refuses a keepalive, proclaim or resign with the wrong secret (403 not_holder)', async () => {
    const l = (await campaign('secrets', { candidate: 'w1', ttlSeconds: 5 }))
      .body as LeadershipBody;
    const bad = { 'slotlock-secret': 'x'.repeat(43) };
    const base = `/v1/elections/secrets/leaders/${l.token}`;
    const k = await call(svc.url, 'POST', `${base}/keepalive`, { headers: bad });
    const p = await call(svc.url, 'PUT', `${base}/value`, { headers: bad, body: { value: 'v' } });
    const d = await call(svc.url, 'DELETE', base, { headers: bad });
    for (const r of [k, p, d]) {
      expect(r.status).toBe(403);
      expect((r.body as ProblemBody).code).toBe('not_holder');
    }
    expect((await leader('secrets')).leader?.token).toBe(l.token);
    await resign('secrets', l);
  });

  it('rejects bad input with problem+json (value too long, unknown field, bad name)', async () => {
    const long = await campaign('bad', { candidate: 'w1', value: 'v'.repeat(4097) });
    expect(long.status).toBe(400);
    expect(long.headers.get('content-type')).toContain('application/problem+json');
    const extra = await campaign('bad', { candidate: 'w1', term: 3 });
    expect(extra.status).toBe(400);
    const name = await call(svc.url, 'GET', '/v1/elections/b%20ad/leader');
    expect(name.status).toBe(400);
    expect(await contenders('bad')).toBe(0);
  });

  it('answers not_leader to a second candidate in try mode and leaves nothing in etcd', async () => {
    const a = (await campaign('try', { candidate: 'a', ttlSeconds: 5 })).body as LeadershipBody;
    const b = await campaign('try', { candidate: 'b', ttlSeconds: 5 });
    expect(b.status).toBe(409);
    expect((b.body as ProblemBody).code).toBe('not_leader');
    await eventually(async () => (await contenders('try')) === 1);
    expect((await leader('try')).leader?.token).toBe(a.token);
    await resign('try', a);
  });

  it('answers wait_timeout when the wait ends and withdraws the candidacy', async () => {
    const a = (await campaign('timeout', { candidate: 'a', ttlSeconds: 5 })).body as LeadershipBody;
    const b = await campaign('timeout', { candidate: 'b', ttlSeconds: 5, waitMs: 300 });
    expect(b.status).toBe(409);
    expect((b.body as ProblemBody).code).toBe('wait_timeout');
    await eventually(async () => (await contenders('timeout')) === 1);
    await resign('timeout', a);
  });

  it('withdraws a waiting candidacy when its client disconnects', async () => {
    const a = (await campaign('gone', { candidate: 'a', ttlSeconds: 5 })).body as LeadershipBody;
    const abort = new AbortController();
    const waiting = campaign(
      'gone',
      { candidate: 'b', ttlSeconds: 5, waitMs: 20_000 },
      abort.signal,
    );
    await eventually(async () => (await contenders('gone')) === 2);
    abort.abort();
    await expect(waiting).rejects.toThrow();
    await eventually(async () => (await contenders('gone')) === 1);
    await resign('gone', a);
    expect((await leader('gone')).leader).toBeNull();
  });

  it('hands over to the waiting candidate at once on resign, with a higher term token', async () => {
    const name = 'handover';
    let previous = (await campaign(name, { candidate: 'c0', ttlSeconds: 30 }))
      .body as LeadershipBody;
    for (let trial = 1; trial <= 3; trial++) {
      const waiting = campaign(name, { candidate: `c${trial}`, ttlSeconds: 30, waitMs: 20_000 });
      await eventually(async () => (await contenders(name)) === 2);
      const sentAt = performance.now();
      expect((await resign(name, previous)).status).toBe(204);
      const next = await waiting;
      timings.handoverMs.push(performance.now() - sentAt);
      expect(next.status).toBe(201);
      const l = next.body as LeadershipBody;
      expect(l.waited).toBe(true);
      expect(BigInt(l.token)).toBeGreaterThan(BigInt(previous.token));
      expect((await leader(name)).leader).toMatchObject({ candidate: `c${trial}`, token: l.token });
      previous = l;
    }
    await resign(name, previous);
    // Well under the lease TTL (30 s): the handover did not wait for an expiry.
    expect(Math.max(...timings.handoverMs)).toBeLessThan(1000);
    expect(await metric('slotlock_election_duration_seconds')).toContain(
      `slotlock_election_duration_seconds_count{election="${name}",reason="resigned"} 3`,
    );
  });

  it('promotes the waiter when the leader lease expires and never reports the expired leader', async () => {
    const name = 'expiry';
    const a = (await campaign(name, { candidate: 'a', ttlSeconds: 2 })).body as LeadershipBody;
    const waiting = campaign(name, { candidate: 'b', ttlSeconds: 5, waitMs: 20_000 });
    await eventually(async () => (await contenders(name)) === 2);
    // No keepalive for a: its 2 s lease lapses. Poll the leader until b leads.
    const seen: string[] = [];
    let b: LeadershipBody | undefined;
    void waiting.then(r => (b = r.body as LeadershipBody));
    const deadline = performance.now() + 6000;
    while (performance.now() < deadline) {
      const now = await leader(name);
      seen.push(now.leader?.candidate ?? 'none');
      if (now.leader?.candidate === 'a') expect(now.leader.expiresInMs).toBeGreaterThanOrEqual(0);
      if (now.leader?.candidate === 'b') break;
    }
    const firstB = seen.indexOf('b');
    expect(firstB).toBeGreaterThan(0);
    // Once a stopped being reported it never came back.
    expect(seen.slice(seen.findIndex(c => c !== 'a'))).not.toContain('a');
    const r = await waiting;
    expect(r.status).toBe(201);
    expect(BigInt(b?.token ?? '0')).toBeGreaterThan(BigInt(a.token));
    const gone = await call(svc.url, 'POST', `/v1/elections/${name}/leaders/${a.token}/keepalive`, {
      headers: { 'slotlock-secret': a.secret },
    });
    expect(gone.status).toBe(410);
    if (b !== undefined) await resign(name, b);
    expect(await metric('slotlock_election_duration_seconds')).toContain(
      `slotlock_election_duration_seconds_count{election="${name}",reason="expired"} 1`,
    );
  });

  it('promotes the waiter when the leader lease is revoked; GET leader shows only the new one', async () => {
    const name = 'revoked';
    const a = (await campaign(name, { candidate: 'a', ttlSeconds: 30 })).body as LeadershipBody;
    const waiting = campaign(name, { candidate: 'b', ttlSeconds: 30, waitMs: 20_000 });
    await eventually(async () => (await contenders(name)) === 2);
    const head = await svc.services.store.range({
      prefix: svc.services.elections.space.contenders(name),
      sort: { target: 'create', order: 'asc' },
      limit: 1,
    });
    const lease = head.kvs[0]?.lease ?? '';
    await svc.client.leaseClient.leaseRevoke({ ID: lease });
    expect((await leader(name)).leader?.token).not.toBe(a.token);
    const b = (await waiting).body as LeadershipBody;
    expect(BigInt(b.token)).toBeGreaterThan(BigInt(a.token));
    expect((await leader(name)).leader?.token).toBe(b.token);
    await resign(name, b);
  });

  describe('observe (SSE)', () => {
    const streams: SseReader[] = [];
    afterAll(() => {
      for (const s of streams) s.close();
    });
    const observe = async (name: string, headers: Record<string, string> = {}) => {
      const s = new SseReader();
      streams.push(s);
      return s.open(`${svc.url}/v1/elections/${encodeURIComponent(name)}/observe`, headers);
    };
    const watchers = () => openWatchCalls();

    it('streams the current state, each change of leader, and null when the last one resigns', async () => {
      const name = 'observed';
      const idle = watchers();
      const a = (await campaign(name, { candidate: 'a', value: 'va', ttlSeconds: 30 }))
        .body as LeadershipBody;
      const s = await observe(name);
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toContain('text/event-stream');
      expect(s.headers.get('cache-control')).toBe('no-cache');
      expect(s.headers.get('x-accel-buffering')).toBe('no');
      const first = await s.next();
      expect(first.event).toBe('leader');
      expect(first.id).toBe(first.data.revision);
      expect(first.data.leader).toMatchObject({ candidate: 'a', value: 'va', token: a.token });

      const waiting = campaign(name, {
        candidate: 'b',
        value: 'vb',
        ttlSeconds: 30,
        waitMs: 20_000,
      });
      await eventually(async () => (await contenders(name)) === 2);
      await resign(name, a);
      const b = (await waiting).body as LeadershipBody;
      const second = await s.next();
      expect(second.data.leader).toMatchObject({ candidate: 'b', value: 'vb', token: b.token });
      expect(BigInt(second.id ?? '0')).toBeGreaterThan(BigInt(first.id ?? '0'));

      await resign(name, b);
      const third = await s.next();
      expect(third.data).toMatchObject({ election: name, leader: null });
      expect(BigInt(third.id ?? '0')).toBeGreaterThan(BigInt(second.id ?? '0'));

      s.close();
      await eventually(async () => Promise.resolve(watchers() === idle));
    });

    it('replays every change after Last-Event-ID, in order, to a client that reconnects', async () => {
      const name = 'resume';
      const s1 = await observe(name);
      const initial = await s1.next();
      expect(initial.data.leader).toBeNull();
      s1.close();

      // Changes made while no one observes.
      const a = (await campaign(name, { candidate: 'a', value: 'v1', ttlSeconds: 30 }))
        .body as LeadershipBody;
      await call(svc.url, 'PUT', `/v1/elections/${name}/leaders/${a.token}/value`, {
        body: { value: 'v2' },
        headers: { 'slotlock-secret': a.secret },
      });
      await resign(name, a);
      const c = (await campaign(name, { candidate: 'c', value: 'v3', ttlSeconds: 30 }))
        .body as LeadershipBody;

      const s2 = await observe(name, { 'last-event-id': initial.id ?? '' });
      const replayed = [await s2.next(), await s2.next(), await s2.next(), await s2.next()];
      expect(
        replayed.map(e => e.data.leader && [e.data.leader.candidate, e.data.leader.value]),
      ).toEqual([['a', 'v1'], ['a', 'v2'], null, ['c', 'v3']]);
      expect(replayed[3]?.data.leader?.token).toBe(c.token);
      const ids = replayed.map(e => BigInt(e.id ?? '0'));
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1] ?? 0n);
      expect(ids[0]).toBeGreaterThan(BigInt(initial.id ?? '0'));

      // Live changes follow the replay on the same stream.
      await resign(name, c);
      expect((await s2.next()).data.leader).toBeNull();
      s2.close();
    });

    it('sends the current state when Last-Event-ID is beyond etcd history', async () => {
      const s = await observe('future', { 'last-event-id': '9000000000000' });
      const first = await s.next();
      expect(first.data).toMatchObject({ election: 'future', leader: null });
      expect(BigInt(first.id ?? '0')).toBeLessThan(9000000000000n);
      s.close();
    });

    it('ends the stream when the replica shuts down', async () => {
      const other = await startTestService({ ETCD_PREFIX: svc.config.ETCD_PREFIX });
      try {
        const s = new SseReader();
        streams.push(s);
        await s.open(`${other.url}/v1/elections/shutdown/observe`);
        await s.next();
        other.services.lifecycle.beginDrain();
        await s.end();
      } finally {
        await other.close();
      }
    });
  });
});
