import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/app.js';
import { repoRoot } from '../support/packages.js';
import { consumerProject, exec, runNode, type Consumer } from './consumer.js';

describe('the @slotlock/client tarball, installed into another project', () => {
  let svc: TestService;
  let consumer: Consumer;

  beforeAll(async () => {
    [svc, consumer] = await Promise.all([startTestService(), consumerProject()]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([svc.close(), consumer.remove()]);
  });

  it('holds the ESM and CommonJS builds with types, and no runtime dependency', async () => {
    const { stdout } = await exec('tar', ['-tzf', consumer.tarball]);
    const files = stdout.split('\n').filter(Boolean);
    for (const f of [
      'dist/esm/index.js',
      'dist/esm/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
    ]) {
      expect(files).toContain(`package/${f}`);
    }
    expect(
      files.filter(f => f.includes('/src/') || (f.endsWith('.ts') && !f.endsWith('.d.ts'))),
    ).toEqual([]);
    const { stdout: pkg } = await exec('tar', ['-xzOf', consumer.tarball, 'package/package.json']);
    const manifest = JSON.parse(pkg);
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.private).toBeUndefined();
    const { stdout: tree } = await exec('npm', ['ls', '--all', '--parseable'], {
      cwd: consumer.dir,
    });
    // The project root, the client and the CLI: nothing else was installed.
    expect(
      tree
        .trim()
        .split('\n')
        .map(l => relative(consumer.dir, l)),
    ).toEqual(['', 'node_modules/@slotlock/cli', 'node_modules/@slotlock/client']);
  });

  it('works from a plain .mjs script with import and a .cjs script with require', async () => {
    const body = (load: string) => `${load}
const slots = new SlotClient({ url: process.env.SLOTLOCK_URL });
async function main() {
  const grant = await slots.acquire({ slot: process.argv[1].endsWith('.mjs') ? 'tb/esm' : 'tb/cjs', holder: 'consumer' });
  let busy;
  try {
    await slots.acquire({ slot: grant.slot, holder: 'second' });
  } catch (err) {
    busy = err instanceof SlotlockError && isSlotlockError(err, 'slot_busy');
  }
  await grant.release();
  console.log(JSON.stringify({ token: grant.token, busy, lost: isLoss(grant.signal.reason) }));
}
main().catch(err => { console.error(err); process.exitCode = 1; });
`;
    await writeFile(
      join(consumer.dir, 'esm.mjs'),
      body(
        "import { SlotClient, SlotlockError, isLoss, isSlotlockError } from '@slotlock/client';",
      ),
    );
    await writeFile(
      join(consumer.dir, 'cjs.cjs'),
      body(
        "const { SlotClient, SlotlockError, isLoss, isSlotlockError } = require('@slotlock/client');",
      ),
    );
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const run = await runNode(consumer.dir, file, { SLOTLOCK_URL: svc.url });
      expect(run.stderr, file).toBe('');
      expect(run.code, file).toBe(0);
      expect(JSON.parse(run.stdout), file).toMatchObject({
        token: expect.stringMatching(/^\d+$/),
        busy: true,
        lost: false,
      });
    }
  });

  it(
    'type-checks a TypeScript consumer under strict, with import and with require',
    { timeout: 120_000 },
    async () => {
      await writeFile(
        join(consumer.dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            lib: ['ES2023'],
            types: ['node'],
            typeRoots: [join(repoRoot, 'node_modules/@types')],
            skipLibCheck: false,
            noEmit: true,
          },
          files: ['esm.mts', 'cjs.cts', 'wrong.mts'],
        }),
      );
      const uses = `
const slots = new SlotClient({ url: 'http://127.0.0.1:8080', credential: () => 'api-key' });
export async function demo(signal: AbortSignal): Promise<string> {
  const grant: Grant = await slots.acquire({ slot: 's', holder: 'h', waitMs: 1000, signal });
  grant.assertHeld();
  const off: () => void = grant.onLost((reason: SlotlockError) => console.log(reason.code));
  off();
  const left: number = grant.expiresInMs();
  await new ElectionClient({}).lead({ election: 'e', candidate: 'c', signal }, async (term: Leadership, lost: AbortSignal) => {
    if (!lost.aborted) term.assertHeld();
  });
  const code: SlotlockErrorCode = 'slot_busy';
  await grant.release();
  return \`\${grant.token} \${left} \${code}\`;
}
`;
      await writeFile(
        join(consumer.dir, 'esm.mts'),
        `import { ElectionClient, SlotClient, type Grant, type Leadership, type SlotlockError, type SlotlockErrorCode } from '@slotlock/client';\n${uses}`,
      );
      await writeFile(
        join(consumer.dir, 'cjs.cts'),
        `import { ElectionClient, SlotClient, type Grant, type Leadership, type SlotlockError, type SlotlockErrorCode } from '@slotlock/client';\n${uses}`,
      );
      // The checker is really on: a wrong type in a third file must be the only error.
      await writeFile(
        join(consumer.dir, 'wrong.mts'),
        `import { SlotClient } from '@slotlock/client';\nexport const n: number = new SlotClient({}).list();\n`,
      );
      const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
      const out = await exec(process.execPath, [tsc, '-p', '.'], {
        cwd: consumer.dir,
        timeout: 90_000,
      }).then(
        () => '',
        (err: unknown) => (err as { stdout?: string }).stdout ?? String(err),
      );
      const errors = out.split('\n').filter(l => /error TS/.test(l));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(/^wrong\.mts\(2,14\): error TS2322/);
    },
  );

  it('installs the slotlock bin from the CLI tarball, with the client as its only dependency', async () => {
    const bin = join(consumer.dir, 'node_modules/.bin/slotlock');
    const inspect = await exec(bin, ['inspect', 'tb/cli', '--json'], {
      env: { ...process.env, SLOTLOCK_URL: svc.url },
    });
    expect(JSON.parse(inspect.stdout)).toMatchObject({ slot: 'tb/cli', holders: [], waiting: 0 });
    // etcd3 is an optional peer dependency: verify says how to get it.
    const verify = await exec(bin, ['verify', '--etcd', 'http://127.0.0.1:9']).catch(
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect(verify).toMatchObject({ code: 1 });
    expect(verify.stderr).toMatch(/the etcd3 package, which is not installed: npm install etcd3/);
  });
});
