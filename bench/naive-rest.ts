/**
 * The naive REST floor: the least a REST lock service can do. An express server (run as a child
 * process, like slotlock) does one etcd3 txn per acquire (put if absent, on the caller's session
 * lease) and one guarded delete txn per release; no validation, metrics, logging, fencing checks,
 * waiting or secrets. Run directly (`node --import tsx bench/naive-rest.ts`) it serves on
 * NAIVE_PORT against NAIVE_ETCD.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { Etcd3 } from 'etcd3';
import { freePort } from '../src/embedded-etcd/index.js';
import { HttpJson, IDLE_SOCKET_MS, expectStatus, stringField } from './http-client.js';
import { times, type Runner } from './load.js';
import { cleanEnv, spawnChild, waitReady, type Child } from './procs.js';

function serve(port: number, etcdUrl: string): void {
  const client = new Etcd3({ hosts: [etcdUrl] });
  const app = express();
  app.use(express.json());
  app.get('/livez', (_req, res) => {
    res.json({ ok: true });
  });
  app.post('/sessions', async (_req, res) => {
    const { ID } = await client.leaseClient.leaseGrant({ TTL: 300 });
    res.status(201).json({ lease: ID });
  });
  app.post('/locks/:slot', async (req, res) => {
    const key = Buffer.from(`naive/${req.params.slot}`);
    const { lease } = req.body as { lease: string };
    const r = await client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: '0' }],
      success: [{ request_put: { key, value: Buffer.from('held'), lease } }],
      failure: [],
    });
    if (r.succeeded) res.status(201).json({ token: r.header.revision });
    else res.status(409).json({ error: 'busy' });
  });
  app.delete('/locks/:slot/:token', async (req, res) => {
    const key = Buffer.from(`naive/${req.params.slot}`);
    const r = await client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: req.params.token }],
      success: [{ request_delete_range: { key } }],
      failure: [],
    });
    res.status(r.succeeded ? 204 : 404).end();
  });
  const server = app.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    client.close();
  });
}

/** Starts the naive server as a child process and waits until it answers. */
export async function startNaive(etcdUrl: string, dir: string): Promise<Child & { url: string }> {
  const port = await freePort();
  const logFile = join(dir, 'naive-rest.log');
  const child = spawnChild(
    'naive-rest',
    process.execPath,
    ['--import', 'tsx', 'bench/naive-rest.ts'],
    {
      logFile,
      env: cleanEnv({ NAIVE_PORT: String(port), NAIVE_ETCD: etcdUrl }),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/livez`, child, logFile, 30_000);
  return { ...child, url };
}

/** Uncontended acquire+release cycles against the naive server, one session lease per worker. */
export async function prepareNaive(url: string, concurrency: number, tag: string): Promise<Runner> {
  const http = new HttpJson(url, concurrency, IDLE_SOCKET_MS);
  const leases = await Promise.all(
    times(concurrency, async () => {
      const res = await http.request('POST', '/sessions');
      expectStatus(res, 201, 'naive session');
      return stringField(res.body, 'lease');
    }),
  ).catch((err: unknown) => {
    http.close();
    throw err;
  });
  return {
    op: async w => {
      const slot = `${tag}-${concurrency}-${w}`;
      const got = await http.request('POST', `/locks/${slot}`, { body: { lease: leases[w] } });
      expectStatus(got, 201, 'naive acquire');
      const token = stringField(got.body, 'token');
      const released = await http.request('DELETE', `/locks/${slot}/${token}`);
      expectStatus(released, 204, 'naive release');
      return undefined;
    },
    close: () => {
      http.close();
      return Promise.resolve();
    },
  };
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  serve(Number(process.env.NAIVE_PORT ?? '0'), process.env.NAIVE_ETCD ?? 'http://127.0.0.1:2379');
}
