/**
 * Writes dist/build-info.json ({ commit }) after `tsc`, so a built replica reports the commit it
 * was built from in `slotlock_build_info` and on its status page. The commit is SLOTLOCK_COMMIT
 * when set (a Docker build has no .git: pass --build-arg SLOTLOCK_COMMIT=$(git rev-parse HEAD)),
 * else `git rev-parse HEAD`, else 'unknown'.
 * Run: npm run build (its postbuild step).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

function gitCommit(): string | undefined {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return out.toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

const fromEnv = process.env.SLOTLOCK_COMMIT?.trim();
const commit = fromEnv !== undefined && fromEnv !== '' ? fromEnv : (gitCommit() ?? 'unknown');
const dist = new URL('../dist/', import.meta.url);
await mkdir(dist, { recursive: true });
await writeFile(new URL('build-info.json', dist), `${JSON.stringify({ commit })}\n`);
console.log(`wrote dist/build-info.json (commit ${commit})`);
