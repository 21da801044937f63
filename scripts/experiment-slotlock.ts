/**
 * The system under test for the experiments: an etcd (our own member in a temp dir, or the one
 * in `ETCD_ENDPOINTS`) and one in-process slotlock on a free loopback port, in its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { connectEtcd } from '../src/etcd/client.js';
import { ensureEtcdInstalled, startEtcdMember } from '../src/embedded-etcd/index.js';
import { createMetrics } from '../src/metrics.js';
import { createServices, type Services } from '../src/services.js';

/** An etcd to run against; `stop` removes what was started here (nothing for an external one). */
export interface ExperimentEtcd {
  endpoints: string[];
  /** The pid of the member started here, if any. */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Uses `ETCD_ENDPOINTS` when set, else starts a single member in a fresh temp dir. */
export async function experimentEtcd(log: (msg: string) => void): Promise<ExperimentEtcd> {
  const external = process.env.ETCD_ENDPOINTS;
  if (external !== undefined && external !== '') {
    return { endpoints: external.split(','), pid: undefined, stop: () => Promise.resolve() };
  }
  await ensureEtcdInstalled(log);
  const dir = await mkdtemp(join(tmpdir(), 'slotlock-experiment-'));
  try {
    const member = await startEtcdMember({
      name: 'experiment',
      dataDir: join(dir, 'data'),
      logFile: join(dir, 'etcd.log'),
    });
    return {
      endpoints: [member.clientUrl],
      pid: member.pid,
      stop: async () => {
        try {
          await member.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A slotlock instance in this process. */
export interface ExperimentSlotlock {
  url: string;
  services: Services;
  client: Etcd3;
  close(): Promise<void>;
}

/** Starts slotlock against `endpoints` under a fresh key prefix (logs go nowhere unless asked). */
export async function startSlotlock(endpoints: string[]): Promise<ExperimentSlotlock> {
  const config = loadConfig({
    ETCD_ENDPOINTS: endpoints.join(','),
    ETCD_PREFIX: `experiment-${randomBytes(4).toString('hex')}/`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    TTL_MIN_S: '2',
  });
  const client = connectEtcd({
    endpoints,
    callTimeoutMs: config.ETCD_CALL_TIMEOUT_MS,
    retryAfterS: config.RETRY_AFTER_S,
  });
  const services = createServices(
    config,
    client,
    pino({ level: config.LOG_LEVEL }),
    createMetrics({ defaultMetrics: false }),
  );
  await services.start();
  const server = createServer(createApp(services));
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    services,
    client,
    close: async () => {
      services.lifecycle.beginDrain();
      server.closeAllConnections();
      await new Promise<void>(resolve => {
        server.close(() => {
          resolve();
        });
      });
      await services.close();
      client.close();
    },
  };
}
