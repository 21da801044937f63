/**
 * The mixed workload one client process runs: acquire / keepalive / fenced writes / release on a
 * few slots (capacity 1 and 3), and campaign / keepalive / resign on elections. One request at a
 * time per process, so each process's history is sequential. A holder that gets paused does not
 * check its own deadline before writing: the fenced store, not the client, must stop it.
 */
import { randomUUID } from 'node:crypto';
import { idOfSecret } from '../../../src/domain/secrets.js';
import { electionSpace, KeyLayout, slotSpace } from '../../../src/etcd/keys.js';
import { bundleCycle } from './bundle-cycle.js';
import { nowMs } from './records.js';
import { ReplicaClient } from './replica-client.js';

export interface SlotSpec {
  name: string;
  capacity: number;
  /** Holders write the slot's fenced record "r". */
  fenced: boolean;
}

export interface ClientConfig {
  proc: string;
  urls: string[];
  prefix: string;
  slots: SlotSpec[];
  elections: string[];
  durationMs: number;
  ttlS: number;
  waitMs: number;
  /** Share of cycles that campaign instead of acquiring a slot. */
  electionShare: number;
  /** Share of slot cycles that take two slots as one bundle (default 0.15; 0: none). */
  bundleShare?: number | undefined;
  /** False when the service has no fenced store: fenced writes are skipped. */
  fencedStore: boolean;
  historyFile: string;
  seed: number;
}

/** A small seeded PRNG (mulberry32), so a run's choices can be replayed from its seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = encodeURIComponent;
const CALL_MS = 8000;

export class Workload {
  private readonly http: ReplicaClient;
  private readonly rand: () => number;
  private readonly layout: KeyLayout;
  private stopped = false;

  constructor(
    private readonly c: ClientConfig,
    private readonly emit: (event: Record<string, unknown>) => void,
  ) {
    this.rand = random(c.seed);
    this.http = new ReplicaClient(c.urls, c.proc, c.historyFile, Math.floor(this.rand() * 2));
    this.layout = new KeyLayout(c.prefix);
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const end = nowMs() + this.c.durationMs;
    while (!this.stopped && nowMs() < end) {
      if (this.c.elections.length > 0 && this.rand() < this.c.electionShare)
        await this.electionCycle();
      else if (this.c.slots.length > 1 && this.rand() < (this.c.bundleShare ?? 0.15))
        await bundleCycle({ ...this.c, http: this.http, callMs: CALL_MS, rand: this.rand });
      else await this.slotCycle();
      await sleep(this.rand() * 50);
    }
  }

  private pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.rand() * items.length)];
    if (item === undefined) throw new Error('nothing to pick from');
    return item;
  }

  private async slotCycle(): Promise<void> {
    const slot = this.pick(this.c.slots);
    const waitMs = this.rand() < 0.75 ? this.c.waitMs : 0;
    const space = slotSpace(this.layout);
    const base = { space: 'slot' as const, name: slot.name, capacity: slot.capacity };
    const path = `/v1/slots/${enc(slot.name)}/grants`;
    // Every acquire carries an Idempotency-Key: one whose answer says "outcome unknown" (an
    // answer lost after commit) is retried once with it, on the next replica, as clients should.
    const idempotencyKey = randomUUID();
    const acquire = () =>
      this.http.send({
        ...base,
        kind: 'acquire',
        method: 'POST',
        path,
        body: { holder: this.c.proc, ttlSeconds: this.c.ttlS, capacity: slot.capacity, waitMs },
        idempotencyKey,
        timeoutMs: waitMs + CALL_MS,
        annotate: b => ({
          token: b.token,
          key: space.contender(slot.name, idOfSecret(b.secret)),
          expiresInMs: b.expiresInMs,
        }),
      });
    let { rec, body } = await acquire();
    if (rec.status === 503 && rec.detail?.includes('outcome unknown') === true) {
      ({ rec, body } = await acquire());
    }
    if (rec.outcome !== 'ok' || rec.token === undefined) return;
    const token = rec.token;
    const secret = body.secret as string;
    const fenced = slot.fenced && this.c.fencedStore;
    this.emit({ event: 'granted', ...base, token, key: rec.key, fenced });
    const grantPath = `${path}/${token}`;
    const held = { ...base, token, secret, key: rec.key };
    // At least 100 ms between the grant's announcement and the first write (a pause lands there).
    const hold = 200 + this.rand() * 300;
    await sleep(hold / 2);
    if (fenced && !(await this.write(held))) return;
    await sleep(hold / 2);
    if (this.rand() < 0.5) {
      const kept = await this.http.send({
        ...base,
        kind: 'keepalive',
        method: 'POST',
        path: `${grantPath}/keepalive`,
        secret,
        timeoutMs: CALL_MS,
        fields: { token, key: rec.key },
        annotate: b => ({ expiresInMs: b.expiresInMs }),
      });
      if (kept.rec.outcome === 'fail') return;
    }
    if (fenced && this.rand() < 0.5 && !(await this.write(held))) return;
    await this.end('release', base, grantPath, token, secret, rec.key);
  }

  /** One fenced write of record "r"; false once the store says the grant is over. */
  private async write(h: {
    space: 'slot';
    name: string;
    capacity: number;
    token: string;
    secret: string;
    key: string | undefined;
  }): Promise<boolean> {
    const seq = this.http.nextSeq();
    const value = `${this.c.proc}#${seq}`;
    const { rec } = await this.http.send({
      space: h.space,
      name: h.name,
      capacity: h.capacity,
      seq,
      kind: 'fenced-write',
      method: 'PUT',
      path: `/v1/slots/${enc(h.name)}/fenced/r`,
      body: { token: h.token, value },
      secret: h.secret,
      timeoutMs: CALL_MS,
      fields: { token: h.token, key: h.key, record: 'r', value },
      annotate: b => ({ revision: b.revision }),
    });
    return rec.status !== 410 && rec.status !== 403;
  }

  /** Release or resign, retried on the other replica while the outcome is unknown. */
  private async end(
    kind: 'release' | 'resign',
    base: { space: 'slot' | 'election'; name: string; capacity: number },
    path: string,
    token: string,
    secret: string,
    key: string | undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { rec } = await this.http.send({
        ...base,
        kind,
        method: 'DELETE',
        path,
        secret,
        timeoutMs: CALL_MS,
        fields: { token, key },
      });
      if (rec.outcome !== 'info') return;
    }
  }

  private async electionCycle(): Promise<void> {
    const name = this.pick(this.c.elections);
    const space = electionSpace(this.layout);
    const base = { space: 'election' as const, name, capacity: 1 };
    const path = `/v1/elections/${enc(name)}`;
    const waitMs = this.rand() < 0.5 ? this.c.waitMs : 0;
    const { rec, body } = await this.http.send({
      ...base,
      kind: 'campaign',
      method: 'POST',
      path: `${path}/campaign`,
      body: { candidate: this.c.proc, ttlSeconds: this.c.ttlS, waitMs },
      timeoutMs: waitMs + CALL_MS,
      annotate: b => ({
        token: b.token,
        key: space.contender(name, idOfSecret(b.secret)),
        expiresInMs: b.expiresInMs,
      }),
    });
    if (rec.outcome !== 'ok' || rec.token === undefined) return;
    const token = rec.token;
    const secret = body.secret as string;
    this.emit({ event: 'elected', ...base, token, key: rec.key });
    const termPath = `${path}/leaders/${token}`;
    await sleep(100 + this.rand() * 300);
    const kept = await this.http.send({
      ...base,
      kind: 'leader-keepalive',
      method: 'POST',
      path: `${termPath}/keepalive`,
      secret,
      timeoutMs: CALL_MS,
      fields: { token, key: rec.key },
      annotate: b => ({ expiresInMs: b.expiresInMs }),
    });
    if (kept.rec.outcome === 'fail') return;
    await sleep(this.rand() * 200);
    await this.end('resign', base, termPath, token, secret, rec.key);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
