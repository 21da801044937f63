/**
 * Builds the workspace packages (packages/client, packages/cli) from their current sources once
 * per test file that runs them as a user would (built JavaScript, not the TypeScript sources).
 * A lock directory keeps parallel test files from building into the same dist at once.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
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

/** Runs `npm run build` of both packages, serialized across test workers. */
export async function buildPackages(timeoutMs = 120_000): Promise<void> {
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
    await run('npm', ['run', 'build', '-w', '@slotlock/client', '-w', '@slotlock/cli'], {
      cwd: repoRoot,
      timeout: timeoutMs,
    });
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
