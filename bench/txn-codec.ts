/**
 * Client-side CPU of one etcd transaction from Node: etcd3's `kv.txn` against slotlock's own wire
 * codec (`src/etcd/txn-codec.ts` + `txn-call.ts`), same etcd, same connection pool, same
 * release-shaped transaction (compare on a create revision; range, delete, put, sorted head read).
 * Run: `npx tsx bench/txn-codec.ts` (about 20 s). Rounds alternate between the two so both see
 * the same background load; prints CPU µs per call (process.cpuUsage) and calls/s, serial and 64
 * in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICompare, IRequestOp } from 'etcd3';
import { connectEtcd } from '../src/etcd/client.js';
import { prefixEnd } from '../src/etcd/keys.js';
import { sendTxn } from '../src/etcd/txn-call.js';
import { encodeTxn } from '../src/etcd/txn-codec.js';
import type { Txn } from '../src/etcd/txn-wire.js';
import { startEtcdMember } from '../src/embedded-etcd/index.js';

const dir = mkdtempSync(join(tmpdir(), 'slotlock-txn-codec-'));
const member = await startEtcdMember({ name: 'codec', dataDir: join(dir, 'etcd') });
const client = connectEtcd({ endpoints: [member.clientUrl], callTimeoutMs: 5000, retryAfterS: 1 });

function ours(i: number): Txn {
  const k = `bench/s${i % 64}/`;
  return {
    compare: [{ key: `${k}c`, target: 'create', op: '==', value: '0' }],
    success: [
      { range: { key: `${k}c` } },
      { delete: { key: `${k}c` } },
      { put: { key: `${k}r`, value: '{"token":"1","at":1}' } },
      { range: { prefix: k, sort: { target: 'create', order: 'asc' }, limit: 1, keysOnly: true } },
    ],
    failure: [{ range: { prefix: k, countOnly: true } }],
  };
}

function theirs(i: number): { compare: ICompare[]; success: IRequestOp[]; failure: IRequestOp[] } {
  const k = `bench/s${i % 64}/`;
  return {
    compare: [
      { key: Buffer.from(`${k}c`), target: 'Create', result: 'Equal', create_revision: '0' },
    ],
    success: [
      { request_range: { key: Buffer.from(`${k}c`) } },
      { request_delete_range: { key: Buffer.from(`${k}c`) } },
      { request_put: { key: Buffer.from(`${k}r`), value: Buffer.from('{"token":"1","at":1}') } },
      {
        request_range: {
          key: Buffer.from(k),
          range_end: prefixEnd(k),
          sort_order: 'Ascend',
          sort_target: 'Create',
          limit: 1,
          keys_only: true,
        },
      },
    ],
    failure: [
      { request_range: { key: Buffer.from(k), range_end: prefixEnd(k), count_only: true } },
    ],
  };
}

const subjects = {
  'etcd3 kv.txn': async (i: number) => {
    await client.kv.txn(theirs(i));
  },
  'slotlock codec': async (i: number) => {
    await sendTxn(client, encodeTxn(ours(i)), undefined);
  },
};

async function measure(run: (i: number) => Promise<void>, conc: number, ms: number) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let calls = 0;
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      while (performance.now() - t0 < ms) await run(w + 64 * calls++);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const s = (performance.now() - t0) / 1000;
  return { calls, cpuUs: cpu.user + cpu.system, s };
}

try {
  for (const conc of [1, 64]) {
    const sum = new Map<string, { calls: number; cpuUs: number; s: number }>();
    for (const [, run] of Object.entries(subjects)) await measure(run, conc, 300); // warm-up
    for (let round = 0; round < 4; round++) {
      const names = Object.keys(subjects) as (keyof typeof subjects)[];
      if (round % 2 === 1) names.reverse();
      for (const name of names) {
        const m = await measure(subjects[name], conc, 1500);
        const acc = sum.get(name) ?? { calls: 0, cpuUs: 0, s: 0 };
        sum.set(name, { calls: acc.calls + m.calls, cpuUs: acc.cpuUs + m.cpuUs, s: acc.s + m.s });
      }
    }
    for (const [name, m] of sum) {
      console.log(
        `${name.padEnd(16)} concurrency ${String(conc).padStart(2)}: ${(m.cpuUs / m.calls).toFixed(0).padStart(4)} µs CPU/call, ${(m.calls / m.s).toFixed(0).padStart(5)} calls/s`,
      );
    }
  }
} finally {
  client.close();
  await member.stop();
  rmSync(dir, { recursive: true, force: true });
}
