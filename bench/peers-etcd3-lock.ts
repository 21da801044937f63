/**
 * Peer: the npm etcd3 package's `Lock` (lease grant + put-if-absent txn; release revokes the
 * lease). It cannot wait and has no fencing token, so contention is measured with retries after a
 * small random backoff on `EtcdLockFailedError`.
 */
import { Etcd3, EtcdLockFailedError, type Lock } from 'etcd3';
import {
  closedLoop,
  jitterSleep,
  type LoopResult,
  type Phase,
  type Probe,
  type Runner,
} from './load.js';
import { fairness, type Fairness } from './stats.js';

const LOCK_TTL_S = 10;
/** An acquire that keeps failing gives up after this long (so the phase stays bounded). */
const GIVE_UP_MS = 20_000;

/** Uncontended acquire+release cycles on distinct keys. */
export function prepareEtcd3Lock(
  etcdUrl: string,
  concurrency: number,
  tag: string,
): Promise<Runner> {
  const client = new Etcd3({ hosts: [etcdUrl] });
  return Promise.resolve({
    op: async w => {
      const lock = client.lock(`bench/etcd3lock/${tag}/${concurrency}/${w}`).ttl(LOCK_TTL_S);
      await lock.acquire();
      await lock.release();
      return undefined;
    },
    close: () => {
      client.close();
      return Promise.resolve();
    },
  });
}

export interface RetryContendedResult {
  /** Latency = time from the first attempt to the grant. */
  loop: LoopResult;
  fairness: Fairness;
  attemptsPerGrant: number;
}

/** `clients` workers contend for one key, retrying after 1-5 ms on `EtcdLockFailedError`. */
export async function etcd3LockContended(
  etcdUrl: string,
  clients: number,
  phase: Phase,
  key: string,
  probe?: Probe,
): Promise<RetryContendedResult> {
  const client = new Etcd3({ hosts: [etcdUrl] });
  let attempts = 0;
  try {
    const loop = await closedLoop(
      { ...phase, concurrency: clients },
      async () => {
        const started = performance.now();
        let lock: Lock;
        for (;;) {
          attempts++;
          lock = client.lock(`bench/etcd3lock/${key}`).ttl(LOCK_TTL_S);
          try {
            await lock.acquire();
            break;
          } catch (err) {
            if (!(err instanceof EtcdLockFailedError)) throw err;
            if (performance.now() - started > GIVE_UP_MS) throw err;
            await jitterSleep(1, 5);
          }
        }
        const waited = performance.now() - started;
        await lock.release();
        return waited;
      },
      probe,
    );
    return {
      loop,
      fairness: fairness(loop.perWorker),
      attemptsPerGrant: loop.ops === 0 ? Number.NaN : attempts / loop.ops,
    };
  } finally {
    client.close();
  }
}
