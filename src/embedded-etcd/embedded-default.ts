import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { ensureEtcdInstalled, freePort, startEtcdMember, type EtcdMember } from './index.js';

/** The local etcd started for the zero-config default. */
export interface EmbeddedEtcd {
  endpoint: string;
  dataDir: string;
  member: EtcdMember;
  stop(): Promise<void>;
}

/**
 * Starts a one-member etcd on loopback with its data in `dataDir` (kept across restarts, so
 * grants and tokens survive a restart of the service). The ports chosen the first time are
 * remembered in `<dataDir>/ports.json` and reused while free. Installs Debian's etcd-server when
 * missing and allowed (root with apt), else fails with the command to run.
 */
export async function startEmbeddedEtcd(opts: {
  dataDir: string;
  log: (msg: string) => void;
  signal?: AbortSignal;
}): Promise<EmbeddedEtcd> {
  await ensureEtcdInstalled(opts.log);
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const ports = await choosePorts(join(dataDir, 'ports.json'));
  const member = await startEtcdMember({
    name: 'slotlock-embedded',
    dataDir: join(dataDir, 'member-data'),
    clientPort: ports.client,
    peerPort: ports.peer,
    logFile: join(dataDir, 'etcd.log'),
    signal: opts.signal,
  });
  return {
    endpoint: member.clientUrl,
    dataDir,
    member,
    stop: () => member.stop(),
  };
}

async function choosePorts(file: string): Promise<{ client: number; peer: number }> {
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as { client?: unknown; peer?: unknown };
    if (
      typeof saved.client === 'number' &&
      typeof saved.peer === 'number' &&
      (await isFree(saved.client)) &&
      (await isFree(saved.peer))
    ) {
      return { client: saved.client, peer: saved.peer };
    }
  } catch {
    // First start, or an unreadable file: pick new ports.
  }
  const client = await freePort();
  let peer = await freePort();
  while (peer === client) peer = await freePort();
  await writeFile(file, JSON.stringify({ client, peer }));
  return { client, peer };
}

function isFree(port: number): Promise<boolean> {
  return new Promise(resolvePromise => {
    const server = createServer();
    server.once('error', () => {
      resolvePromise(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolvePromise(true);
      });
    });
  });
}
