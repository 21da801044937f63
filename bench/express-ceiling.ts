/**
 * The bare express ceiling: express 5 in a child process on loopback with ONE route that answers
 * a small JSON and does nothing else (no body parsing, validation, logging, metrics or etcd). The
 * bench drives it with its own keep-alive HTTP client (bench/http-client.ts), so its requests/s is
 * the most one Node process with express can answer on this machine under the same generator; a
 * slotlock session cycle is two HTTP requests, so slotlock's request rate is 2 × its cycle rate.
 * Run directly (`node --import tsx bench/express-ceiling.ts`) it serves on CEILING_PORT.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { freePort } from '../src/embedded-etcd/index.js';
import { HttpJson, IDLE_SOCKET_MS, expectStatus } from './http-client.js';
import type { Runner } from './load.js';
import { cleanEnv, spawnChild, waitReady, type Child } from './procs.js';

/** The JSON every request gets: about the size of a small slotlock answer. */
const BODY = { ok: true, slot: 'ceiling', token: '123456', holder: 'bench' };

function serve(port: number): void {
  const app = express();
  app.get('/ping', (_req, res) => {
    res.json(BODY);
  });
  const server = app.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
  });
}

/** Starts the ceiling server as a child process and waits until it answers. */
export async function startCeiling(dir: string): Promise<Child & { url: string }> {
  const port = await freePort();
  const logFile = join(dir, 'express-ceiling.log');
  const child = spawnChild(
    'express-ceiling',
    process.execPath,
    ['--import', 'tsx', 'bench/express-ceiling.ts'],
    { logFile, env: cleanEnv({ CEILING_PORT: String(port) }) },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/ping`, child, logFile, 30_000);
  return { ...child, url };
}

/** One GET /ping per operation over `concurrency` kept-alive sockets. */
export function prepareCeiling(url: string, concurrency: number): Promise<Runner> {
  const http = new HttpJson(url, concurrency, IDLE_SOCKET_MS);
  return Promise.resolve({
    op: async () => {
      expectStatus(await http.request('GET', '/ping'), 200, 'GET /ping');
      return undefined;
    },
    close: () => {
      http.close();
      return Promise.resolve();
    },
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  serve(Number(process.env.CEILING_PORT ?? '0'));
}
