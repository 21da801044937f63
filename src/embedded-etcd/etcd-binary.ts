/** Finding Debian's etcd binary, and installing it when allowed (root with apt). */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The command an operator runs to install etcd on Debian/Ubuntu. */
/** How much of apt's output an install failure shows. */
const TAIL_BYTES = 4096;

export const ETCD_INSTALL_COMMAND = 'sudo apt-get install -y etcd-server';

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function lookPath(command: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(dir => dir !== '');
  return dirs.map(dir => join(dir, command)).find(isExecutableFile);
}

/** Path of the etcd binary: `ETCD_BIN` if executable, else `/usr/bin/etcd`, else `etcd` on PATH. */
export function findEtcdBinary(): string | undefined {
  const fromEnv = process.env.ETCD_BIN;
  if (fromEnv !== undefined && fromEnv !== '' && isExecutableFile(fromEnv)) return fromEnv;
  if (isExecutableFile('/usr/bin/etcd')) return '/usr/bin/etcd';
  return lookPath('etcd');
}

function aptGet(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFile('apt-get', args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`apt-get ${args.join(' ')} failed: ${stderr.slice(-TAIL_BYTES)}`));
    });
  });
}

/**
 * Returns the etcd binary, installing Debian's `etcd-server` with apt-get when it is missing and this
 * process runs as root. Otherwise it throws an Error naming the exact install command.
 */
export async function ensureEtcdInstalled(
  log: (msg: string) => void = () => undefined,
): Promise<string> {
  const found = findEtcdBinary();
  if (found !== undefined) return found;
  const fromEnv = process.env.ETCD_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    throw new Error(`ETCD_BIN=${fromEnv} is not an executable file`);
  }
  if (process.getuid?.() !== 0 || lookPath('apt-get') === undefined) {
    throw new Error(`etcd is not installed; install it with: ${ETCD_INSTALL_COMMAND}`);
  }
  log('etcd not found; installing etcd-server with apt-get');
  try {
    await aptGet(['install', '-y', 'etcd-server']);
  } catch {
    log('apt-get install failed; running apt-get update and retrying');
    await aptGet(['update']);
    await aptGet(['install', '-y', 'etcd-server']);
  }
  const installed = findEtcdBinary();
  if (installed === undefined) {
    throw new Error('etcd-server was installed but no etcd binary found');
  }
  log(`etcd installed at ${installed}`);
  return installed;
}
