/**
 * A small contended workload of bundles and single-slot grants against one slotlock URL, recorded
 * as chaos-style operation records (one acquire and one release record per bundle member), for
 * the chaos checkers (test/support/chaos/checkers.ts) to judge together with etcd's history.
 */
import { KeyLayout, slotSpace } from '../../src/etcd/keys.js';
import { idOfSecret } from '../../src/domain/secrets.js';
import { memberKey } from '../../src/domain/bundles/bundle.js';
import { call } from './app.js';
import { nowMs, type OpRecord } from './chaos/records.js';

export interface BundleWorkload {
  url: string;
  prefix: string;
  slots: readonly string[];
  clients: number;
  rounds: number;
  waitMs: number;
}

/** Runs the workload; resolves with every operation record, in no particular order. */
export async function runBundleWorkload(w: BundleWorkload): Promise<OpRecord[]> {
  const space = slotSpace(new KeyLayout(w.prefix));
  const ops: OpRecord[] = [];
  let seq = 0;
  const record = (proc: string, o: Omit<OpRecord, 'proc' | 'seq' | 'space' | 'replica'>) => {
    ops.push({ proc, seq: ++seq, space: 'slot', replica: 's1', ...o });
  };
  const outcome = (status: number) => (status < 300 ? 'ok' : status < 500 ? 'fail' : 'info');
  const pick = (n: number) => [...w.slots].sort(() => Math.random() - 0.5).slice(0, n);
  const client = async (proc: string) => {
    for (let round = 0; round < w.rounds; round++) {
      const names = pick(round % 3 === 2 ? 1 : 2);
      const invoke = nowMs();
      if (names.length === 1) {
        const name = names[0] ?? '';
        const g = await call(w.url, 'POST', `/v1/slots/${name}/grants`, {
          body: { holder: proc, ttlSeconds: 5, waitMs: w.waitMs },
          timeoutMs: w.waitMs + 10_000,
        });
        const key = g.status === 201 ? space.contender(name, idOfSecret(g.body.secret)) : undefined;
        const base = { name, capacity: 1, token: g.body?.token as string | undefined, key };
        record(proc, {
          kind: 'acquire',
          ...base,
          invoke,
          complete: nowMs(),
          status: g.status,
          outcome: outcome(g.status),
          code: g.body?.code as string | undefined,
          expiresInMs: g.body?.expiresInMs as number | undefined,
        });
        if (g.status !== 201) continue;
        const rInvoke = nowMs();
        const r = await call(w.url, 'DELETE', `/v1/slots/${name}/grants/${g.body.token}`, {
          headers: { 'slotlock-secret': g.body.secret },
        });
        record(proc, {
          kind: 'release',
          ...base,
          invoke: rInvoke,
          complete: nowMs(),
          status: r.status,
          outcome: outcome(r.status),
        });
        continue;
      }
      const b = await call(w.url, 'POST', '/v1/bundles', {
        body: {
          holder: proc,
          ttlSeconds: 5,
          waitMs: w.waitMs,
          slots: names.map(slot => ({ slot })),
        },
        timeoutMs: w.waitMs + 10_000,
      });
      const complete = nowMs();
      const members = names.map((name, i) => ({
        name,
        capacity: 1,
        token: (b.body?.slots?.[i]?.token ?? undefined) as string | undefined,
        key: b.status === 201 ? memberKey(space, name, b.body.bundle) : undefined,
        bundle: b.status === 201 ? (b.body.bundle as string) : undefined,
      }));
      for (const m of members) {
        record(proc, {
          kind: 'acquire',
          ...m,
          invoke,
          complete,
          status: b.status,
          outcome: outcome(b.status),
          code: b.body?.code as string | undefined,
          expiresInMs: b.body?.expiresInMs as number | undefined,
        });
      }
      if (b.status !== 201) continue;
      const rInvoke = nowMs();
      const r = await call(w.url, 'DELETE', `/v1/bundles/${b.body.token}`, {
        headers: { 'slotlock-secret': b.body.secret },
      });
      const rComplete = nowMs();
      for (const m of members) {
        record(proc, {
          kind: 'release',
          ...m,
          invoke: rInvoke,
          complete: rComplete,
          status: r.status,
          outcome: outcome(r.status),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: w.clients }, (_, i) => client(`c${i + 1}`)));
  return ops;
}
