/** Helpers every etcd-backed test uses: the shared endpoints, a key namespace, a temp dir. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';

/** Client URLs of the etcd member started by the global setup for this run. */
export function etcdEndpoints(): string[] {
  return inject('etcdEndpoints');
}

/** A key prefix no other test uses, e.g. `t-semaphore-3f9a1c2b/`. */
export function uniquePrefix(label = 'test'): string {
  const safe = label.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `t-${safe}-${randomBytes(4).toString('hex')}/`;
}

/** Runs `fn` with a fresh temp dir and removes the dir afterwards, even when `fn` throws. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'slotlock-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
