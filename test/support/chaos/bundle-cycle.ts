/**
 * One bundle cycle of the chaos workload: take two slots together (`POST /v1/bundles`), hold them,
 * maybe renew, release. The service answers once for the bundle; the history gets one record per
 * slot (sharing `bundle`), so the checkers count each member as a holder of its slot.
 */
import { memberKey } from '../../../src/domain/bundles/bundle.js';
import { KeyLayout, slotSpace } from '../../../src/etcd/keys.js';
import { appendJsonLine, type OpRecord } from './records.js';
import type { ReplicaClient } from './replica-client.js';
import type { SlotSpec } from './workload.js';

/** What a bundle cycle needs from its workload. */
export interface BundleCycleContext {
  http: ReplicaClient;
  proc: string;
  prefix: string;
  historyFile: string;
  slots: readonly SlotSpec[];
  ttlS: number;
  waitMs: number;
  callMs: number;
  rand: () => number;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Runs one cycle; returns when the bundle was released or lost (or never granted). */
export async function bundleCycle(x: BundleCycleContext): Promise<void> {
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(x.rand() * items.length)];
    if (item === undefined) throw new Error('nothing to pick from');
    return item;
  };
  const first = pick(x.slots);
  const second = pick(x.slots.filter(s => s.name !== first.name));
  const members = [first, second];
  const space = slotSpace(new KeyLayout(x.prefix));
  const waitMs = x.rand() < 0.75 ? x.waitMs : 0;
  const base = { space: 'slot' as const, name: first.name, capacity: first.capacity };
  const { rec, body } = await x.http.send({
    ...base,
    kind: 'acquire',
    method: 'POST',
    path: '/v1/bundles',
    body: {
      holder: x.proc,
      ttlSeconds: x.ttlS,
      waitMs,
      slots: members.map(m => ({ slot: m.name, capacity: m.capacity })),
    },
    timeoutMs: waitMs + x.callMs,
    annotate: b => ({
      token: b.token,
      bundle: b.bundle,
      key: memberKey(space, first.name, b.bundle),
      expiresInMs: b.expiresInMs,
    }),
  });
  if (rec.outcome !== 'ok' || rec.token === undefined || rec.bundle === undefined) return;
  const { token, bundle } = rec;
  const secret = body.secret as string;
  // The same answer, recorded for the second slot of the bundle.
  const mirror = (r: OpRecord) => {
    appendJsonLine(x.historyFile, {
      ...r,
      seq: x.http.nextSeq(),
      name: second.name,
      capacity: second.capacity,
      key: memberKey(space, second.name, bundle),
    } satisfies OpRecord);
  };
  mirror(rec);
  const fields = { token, bundle, key: rec.key };
  await sleep(200 + x.rand() * 300);
  if (x.rand() < 0.5) {
    const kept = await x.http.send({
      ...base,
      kind: 'keepalive',
      method: 'POST',
      path: `/v1/bundles/${token}/keepalive`,
      secret,
      timeoutMs: x.callMs,
      fields,
      annotate: b => ({ expiresInMs: b.expiresInMs }),
    });
    mirror(kept.rec);
    if (kept.rec.outcome === 'fail') return;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const released = await x.http.send({
      ...base,
      kind: 'release',
      method: 'DELETE',
      path: `/v1/bundles/${token}`,
      secret,
      timeoutMs: x.callMs,
      fields,
    });
    mirror(released.rec);
    if (released.rec.outcome !== 'info') return;
  }
}
