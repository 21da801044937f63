/**
 * The floor: the least a lock cycle costs from Node, with the etcd3 client's raw RPCs and no
 * HTTP. Session mode: one lease per worker, a cycle is a create txn (put if absent, on the lease)
 * and a delete txn (guarded by the create revision). Per-grant mode: lease grant, create txn, revoke.
 */
import { Etcd3 } from 'etcd3';
import { times, type Runner } from './load.js';

export type LeaseMode = 'session' | 'per-grant';

/** A value about the size of slotlock's holder record, so both write the same bytes. */
const VALUE = Buffer.from(
  JSON.stringify({ holder: 'bench-worker', capacity: 1, ttlS: 15, fp: 'x'.repeat(22), at: 0 }),
);

/** Acquire+release cycles on distinct keys, one per worker. */
export async function prepareFloor(
  etcdUrl: string,
  mode: LeaseMode,
  concurrency: number,
  tag: string,
): Promise<Runner> {
  const client = new Etcd3({ hosts: [etcdUrl] });
  const sessionLeases: string[] = [];
  const close = async () => {
    await Promise.allSettled(sessionLeases.map(ID => client.leaseClient.leaseRevoke({ ID })));
    client.close();
  };
  try {
    if (mode === 'session') {
      const granted = await Promise.all(
        times(concurrency, () => client.leaseClient.leaseGrant({ TTL: 300 })),
      );
      sessionLeases.push(...granted.map(g => g.ID));
    }
  } catch (err) {
    await close();
    throw err;
  }
  const keys = times(concurrency, w =>
    Buffer.from(`bench/floor/${tag}/${mode}/${concurrency}/${w}`),
  );
  const create = async (key: Buffer, lease: string): Promise<string> => {
    const res = await client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: '0' }],
      success: [{ request_put: { key, value: VALUE, lease } }],
      failure: [],
    });
    if (!res.succeeded) throw new Error(`floor: ${key.toString()} already exists`);
    return res.header.revision;
  };
  const op = async (w: number) => {
    const key = keys[w] ?? Buffer.from('bench/floor/?');
    if (mode === 'session') {
      const token = await create(key, sessionLeases[w] ?? '0');
      const res = await client.kv.txn({
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: token }],
        success: [{ request_delete_range: { key } }],
        failure: [],
      });
      if (!res.succeeded) throw new Error('floor: delete lost the key');
    } else {
      const { ID } = await client.leaseClient.leaseGrant({ TTL: 10 });
      await create(key, ID);
      await client.leaseClient.leaseRevoke({ ID });
    }
    return undefined;
  };
  return { op, close };
}
