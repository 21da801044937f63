/**
 * Faults of etcd's ordinary life that hit its answers and its disk (issue 13): answers lost after
 * etcd applied the request, and etcd's NOSPACE alarm. Both are injected from outside the service:
 * the first at the network (replica s1 reaches etcd through TCP proxies), the second through
 * etcd's own Alarm API; nothing in the service can turn them on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from './faults.js';
import { nowMs, type FaultRecord } from './records.js';

/**
 * Sixteen times over `faultMs`, the next answer etcd sends to replica s1 on each connection is lost
 * and the connection dropped: the request (often an acquire or release transaction, batched or
 * not) was applied, its answer never arrives. s1 must report "outcome unknown", clean up only what
 * it created, and a retry with the same Idempotency-Key must find the grant.
 */
export async function loseAnswers(ctx: FaultContext): Promise<FaultRecord> {
  const start = nowMs();
  const times = 16;
  for (let i = 0; i < times; i++) {
    for (const p of ctx.s1Proxies) p.loseNextAnswer();
    await sleep(ctx.spec.faultMs / times);
  }
  return {
    name: 'lose-answers',
    target: 's1',
    start,
    end: nowMs(),
    detail: `${times} times: etcd's next answer to s1 lost after commit, connections dropped`,
  };
}

/**
 * etcd's NOSPACE alarm for `faultMs` (raised through the Alarm API, as etcd raises it itself when
 * its backend reaches --quota-backend-bytes; test/foundation/etcd-nospace.test.ts fills a real
 * quota): every write is refused. Then it is disarmed, etcd compacted and defragmented (with a
 * real full backend the runbook compacts and defragments first). The replicas answer 503
 * etcd_nospace meanwhile and recover unaided.
 */
export async function noSpace(ctx: FaultContext): Promise<FaultRecord> {
  const status = await ctx.etcd.maintenance.status();
  const memberID = status.header.member_id;
  const start = nowMs();
  await ctx.etcd.maintenance.alarm({ action: 'Activate', memberID, alarm: 'Nospace' });
  try {
    await sleep(ctx.spec.faultMs);
  } finally {
    const { alarms } = await ctx.etcd.maintenance.alarm({ action: 'Get', alarm: 'None' });
    for (const a of alarms) {
      await ctx.etcd.maintenance.alarm({
        action: 'Deactivate',
        memberID: a.memberID,
        alarm: a.alarm,
      });
    }
  }
  const end = nowMs();
  // The rest of the runbook (here after the disarm: the history keeper writes a marker key).
  await ctx.compact();
  await ctx.etcd.maintenance.defragment();
  return {
    name: 'etcd-nospace',
    target: 'etcd',
    start,
    end,
    detail: `NOSPACE alarm raised for ${ctx.spec.faultMs / 1000} s, then compact, defrag, disarm`,
  };
}
