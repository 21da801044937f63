import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { startTestService, type TestService } from '../support/app.js';
import { startChild } from '../support/child.js';
import { cliMain } from '../support/packages.js';
import { consumerProject, exec, runNode, type Consumer } from './consumer.js';
import { namedFiles, readmeBlocks } from './readme-blocks.js';

describe("README's client and CLI sections, run literally", () => {
  let dir: string;
  let etcd: EtcdMember;
  let svc: TestService;
  let consumer: Consumer;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slotlock-readme-'));
    // Its own etcd: `slotlock verify` in the README audits the whole history from revision 1.
    etcd = await startEtcdMember({ name: 'readme', dataDir: join(dir, 'etcd') });
    [svc, consumer] = await Promise.all([
      startTestService({ ETCD_PREFIX: 'readme/' }, { endpoints: [etcd.clientUrl] }),
      consumerProject(),
    ]);
    // `slotlock` on the PATH: the CLI as built in this repository.
    await mkdir(join(dir, 'bin'));
    await writeFile(
      join(dir, 'bin/slotlock'),
      `#!/bin/sh\nexec "${process.execPath}" "${cliMain}" "$@"\n`,
    );
    await chmod(join(dir, 'bin/slotlock'), 0o755);
    env = {
      SLOTLOCK_URL: svc.url,
      ETCD_ENDPOINTS: etcd.clientUrl,
      ETCD_PREFIX: 'readme/',
      PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`,
    };
  }, 180_000);
  afterAll(async () => {
    await svc.close();
    await etcd.stop();
    await Promise.all([consumer.remove(), rm(dir, { recursive: true, force: true })]);
  });

  it('runs the client examples against the service: lock.mjs, worker.mjs, check.cjs', async () => {
    const files = namedFiles(await readmeBlocks('Client library'));
    expect([...files.keys()].sort()).toEqual(['check.cjs', 'lock.mjs', 'worker.mjs']);
    for (const [name, code] of files) await writeFile(join(consumer.dir, name), code);

    const lock = await runNode(consumer.dir, 'lock.mjs', env);
    expect(lock.stderr).toBe('');
    expect(lock.stdout).toMatch(/^assigning order 17 to driver:42 with fencing token \d+\n$/);

    const worker = startChild(process.execPath, ['worker.mjs'], {
      cwd: consumer.dir,
      env: { ...process.env, ...env },
    });
    try {
      await worker.line(/^leading with term \d+$/);
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(worker.stdout()).toMatch(/resigned\n$/);
    } finally {
      await worker.stop('SIGKILL');
    }

    const check = await runNode(consumer.dir, 'check.cjs', env);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('runs the CLI block with bash -e and every command succeeds', async () => {
    const blocks = (await readmeBlocks('The `slotlock` CLI')).filter(b => b.lang === 'sh');
    expect(blocks).toHaveLength(1);
    const script = blocks[0]?.code ?? '';
    const run = await exec('bash', ['-e', '-c', script], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    }).catch((err: unknown) => err as { stdout: string; stderr: string; code: number });
    expect('code' in run ? run.stderr : '').toBe('');
    expect(run.stdout).toMatch(/^dispatching with token \d+$/m);
    expect(run.stdout).toMatch(/^leading with term \d+$/m);
    expect(run.stdout).toMatch(/nobody leads now/);
    expect(run.stdout).toMatch(/"slot":"driver:42"/);
    expect(run.stdout).toMatch(/token 1 is not current/);
    expect(run.stdout).toMatch(
      /audited readme\/ from revision 1 to \d+: \d+ events, 1 slots, 1 elections, \d+ contenders: 0 violation\(s\)/,
    );
  });
});
