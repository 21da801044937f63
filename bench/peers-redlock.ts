/**
 * Peer: Redis with redlock 4 on one local redis-server (no persistence). Redlock hands out no
 * fencing token, so it cannot protect a resource from a paused holder; it is here for speed only.
 */
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { closedLoop, type Phase, type Probe, type Runner } from './load.js';
import { fairness } from './stats.js';
import type { RetryContendedResult } from './peers-etcd3-lock.js';

const LOCK_TTL_MS = 10_000;

function connect(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
}

/** redlock 4 calls `eval(args[], cb)`; ioredis 5 flattens the array, its types just say otherwise. */
function compatible(redis: Redis): Redlock.CompatibleRedisClient {
  return redis as unknown as Redlock.CompatibleRedisClient;
}

/** Uncontended lock+unlock cycles on distinct resources (no retries). */
export function prepareRedlock(port: number, concurrency: number, tag: string): Promise<Runner> {
  const redis = connect(port);
  const redlock = new Redlock([compatible(redis)], { retryCount: 0 });
  redlock.on('clientError', () => undefined);
  return Promise.resolve({
    op: async w => {
      const lock = await redlock.lock(`bench:${tag}:${concurrency}:${w}`, LOCK_TTL_MS);
      await lock.unlock();
      return undefined;
    },
    close: () => {
      redis.disconnect();
      return Promise.resolve();
    },
  });
}

/** `clients` workers contend for one resource with redlock's own retries every 1-5 ms. */
export async function redlockContended(
  port: number,
  clients: number,
  phase: Phase,
  resource: string,
  probe?: Probe,
): Promise<RetryContendedResult> {
  const redis = connect(port);
  // retryDelay 1 ms + up to 4 ms jitter, at most 6000 tries: an acquire gives up after ~20 s.
  const redlock = new Redlock([compatible(redis)], {
    retryCount: 6000,
    retryDelay: 1,
    retryJitter: 4,
  });
  redlock.on('clientError', () => undefined);
  let attempts = 0;
  try {
    const loop = await closedLoop(
      { ...phase, concurrency: clients },
      async () => {
        const started = performance.now();
        const lock = await redlock.lock(`bench:${resource}`, LOCK_TTL_MS);
        const waited = performance.now() - started;
        attempts += lock.attempts;
        await lock.unlock();
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
    redis.disconnect();
  }
}
