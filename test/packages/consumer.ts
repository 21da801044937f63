/**
 * A fresh project outside the repository that installs the packed `@slotlock/client` tarball
 * offline, as a user of another repository would, plus helpers to run code in it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildPackages, repoRoot } from '../support/packages.js';

export const exec = promisify(execFile);

/** The consumer project: its directory, the tarballs it installed, and a clean-up. */
export interface Consumer {
  dir: string;
  /** The client's tarball. */
  tarball: string;
  /** The CLI's tarball (installed too: its one dependency is the client). */
  cliTarball: string;
  remove(): Promise<void>;
}

/** Builds and packs the client and the CLI, then installs both into a new temp project (offline). */
export async function consumerProject(): Promise<Consumer> {
  await buildPackages();
  const root = await mkdtemp(join(tmpdir(), 'slotlock-consumer-'));
  // The build already ran (and npm pack's prepare would rebuild dist under other test files).
  const pack = ['pack', '-w', '@slotlock/client', '-w', '@slotlock/cli', '--ignore-scripts'];
  await exec('npm', [...pack, '--pack-destination', root], { cwd: repoRoot, timeout: 60_000 });
  const tarballs = await readdir(root);
  const tarball = join(root, tarballs.find(f => f.startsWith('slotlock-client-')) ?? 'missing');
  const cliTarball = join(root, tarballs.find(f => f.startsWith('slotlock-cli-')) ?? 'missing');
  const dir = join(root, 'consumer');
  await exec('mkdir', [dir]);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball, cliTarball], {
    cwd: dir,
    timeout: 60_000,
  });
  return { dir, tarball, cliTarball, remove: () => rm(root, { recursive: true, force: true }) };
}

/** Runs `node file` in the consumer project with `env`; resolves with its output and exit code. */
export function runNode(
  dir: string,
  file: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile(
      process.execPath,
      [file],
      { cwd: dir, env: { ...process.env, ...env }, timeout: 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
          stdout,
          stderr,
        });
      },
    );
  });
}
