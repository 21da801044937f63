/**
 * vitest globalSetup: one etcd member for the whole run, on free loopback ports in a fresh temp dir.
 * Tests read its endpoints with `inject('etcdEndpoints')` (see ./etcd.ts) and keep to their own prefix.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureEtcdInstalled, startEtcdMember } from '../../src/embedded-etcd/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Client URLs of the etcd started for this test run. */
    etcdEndpoints: string[];
  }
}

/** Starts the shared etcd and returns the teardown that stops it and removes its data. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureEtcdInstalled(msg => {
    console.log(`[global-setup] ${msg}`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'slotlock-test-'));
  try {
    const member = await startEtcdMember({
      name: 'slotlock-test',
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'etcd.log'),
    });
    project.provide('etcdEndpoints', [member.clientUrl]);
    return async () => {
      try {
        await member.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
