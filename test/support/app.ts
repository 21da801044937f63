/** Builds the real service (app + domain) against the test etcd, in its own key namespace. */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Etcd3 } from 'etcd3';
import { pino, type Logger } from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { connectEtcd } from '../../src/etcd/client.js';
import type { EtcdFaults } from '../../src/etcd/faults.js';
import { createMetrics } from '../../src/metrics.js';
import { createServices, type Services } from '../../src/services.js';
import { etcdEndpoints, uniquePrefix } from './etcd.js';

export interface TestService {
  services: Services;
  client: Etcd3;
  config: Config;
  /** Base URL of a real listening server (for long-polls and disconnects). */
  url: string;
  server: Server;
  app: ReturnType<typeof createApp>;
  /** Stops the server and the services and closes the etcd client. Never revokes leases. */
  close(): Promise<void>;
}

/**
 * Starts one slotlock instance on a free loopback port. `env` overrides settings (as strings,
 * like the process environment); by default each call gets a fresh key prefix, so pass the same
 * `ETCD_PREFIX` to make two instances share state.
 */
export async function startTestService(
  env: Record<string, string> = {},
  opts: { endpoints?: string[]; etcdFaults?: EtcdFaults; log?: Logger } = {},
): Promise<TestService> {
  const config = loadConfig({
    ETCD_ENDPOINTS: (opts.endpoints ?? etcdEndpoints()).join(','),
    ETCD_PREFIX: uniquePrefix('svc'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const client = connectEtcd({
    endpoints: config.ETCD_ENDPOINTS ?? [],
    callTimeoutMs: config.ETCD_CALL_TIMEOUT_MS,
    retryAfterS: config.RETRY_AFTER_S,
    username: config.ETCD_USERNAME,
    password: config.ETCD_PASSWORD,
    caFile: config.ETCD_CA_FILE,
    certFile: config.ETCD_CERT_FILE,
    keyFile: config.ETCD_KEY_FILE,
  });
  const log = opts.log ?? pino({ level: config.LOG_LEVEL });
  const services = createServices(
    config,
    client,
    log,
    createMetrics({ defaultMetrics: false }),
    opts.etcdFaults === undefined ? {} : { etcdFaults: opts.etcdFaults },
  );
  await services.start();
  const app = createApp(services);
  const server = createServer(app);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  return {
    services,
    client,
    config,
    url: `http://127.0.0.1:${port}`,
    server,
    app,
    close: async () => {
      if (closed) return;
      closed = true;
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

/** JSON over fetch with a bounded time; returns status, headers and parsed body. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: {
    body?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal;
    timeoutMs?: number;
  } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body:
      opts.body === undefined
        ? null
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body),
    signal: opts.signal ?? AbortSignal.timeout(opts.timeoutMs ?? 20_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** How many etcd calls of kind `op` this service instance made (from its own metrics). */
export async function etcdCalls(svc: TestService, op: string): Promise<number> {
  const metric = await svc.services.metrics.etcdRequests.get();
  return metric.values.filter(v => v.labels.op === op).reduce((sum, v) => sum + v.value, 0);
}
