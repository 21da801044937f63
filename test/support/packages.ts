/**
 * Builds the workspace packages (packages/client, packages/cli) from their current sources once
 * per test file that runs them as a user would (built JavaScript, not the TypeScript sources).
 * A lock directory keeps parallel test files from building into the same dist at once.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The built CLI entry point. */
export const cliMain = join(repoRoot, 'packages/cli/dist/main.js');

const lockDir = join(tmpdir(), 'slotlock-packages-build.lock');

/** The newest modification time among the files under `dir` (0 if none). */
async function newest(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const times = await Promise.all(
    entries
      .filter(e => e.isFile())
      .map(async e => (await stat(join(e.parentPath, e.name))).mtimeMs),
  );
  return Math.max(0, ...times);
}

/** True when every build output is newer than every source and config file of the packages. */
async function upToDate(): Promise<boolean> {
  const outputs = [
    'packages/client/dist/esm/index.js',
    'packages/client/dist/cjs/index.js',
    'packages/cli/dist/main.js',
  ];
  const built = await Promise.all(
    outputs.map(async f => (await stat(join(repoRoot, f)).catch(() => undefined))?.mtimeMs ?? 0),
  );
  const inputs = await Promise.all(
    ['client', 'cli'].flatMap(p => [
      newest(join(repoRoot, 'packages', p, 'src')),
      stat(join(repoRoot, 'packages', p, 'package.json')).then(s => s.mtimeMs),
    ]),
  );
  return Math.min(...built) > Math.max(...inputs);
}

/**
 * Runs `npm run build` of both packages unless their outputs are newer than their sources,
 * serialized across test workers.
 */
export async function buildPackages(timeoutMs = 120_000): Promise<void> {
  // Checked under the lock only: outside it, another worker may be halfway through writing dist.
  const end = performance.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch {
      // Another worker builds; a lock older than the timeout is a leftover of a killed run.
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > timeoutMs) await rm(lockDir, { recursive: true, force: true });
      if (performance.now() > end) throw new Error('timed out waiting for another package build');
      await new Promise(resolve => setTimeout(resolve, 200));
    }
  }
  try {
    if (await upToDate()) return;
    await run('npm', ['run', 'build', '-w', '@slotlock/client', '-w', '@slotlock/cli'], {
      cwd: repoRoot,
      timeout: timeoutMs,
    });
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
