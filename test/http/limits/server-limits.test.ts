/**
 * What one client can hold of a replica: a 100 MB body is refused and the connection closed
 * without reading it, a slowloris client is cut off after the header timeout, connections are
 * bounded, and long-polls and SSE streams still outlive the request timeout.
 */
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyServerLimits, serverOptions } from '../../../src/http/limits/server-limits.js';
import { call, startTestService, type TestService } from '../../support/app.js';

interface RawExchange {
  /** Everything the server sent before it closed the connection. */
  text: string;
  /** Bytes of the body we managed to write before the server closed. */
  written: number;
}

/** Opens a socket and resolves with the socket once connected. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with what the server sent once it closes the socket (bounded by `timeoutMs`). */
function untilClosed(s: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the server kept the connection open; got: ${text.slice(0, 200)}`));
    }, timeoutMs);
    s.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.getConnections((err, n) => {
      if (err) reject(err);
      else resolve(n);
    });
  });
}

/** Announces a huge JSON body, sends 64 KiB of it, and keeps sending until the server closes. */
async function hugeUpload(port: number, extraHeaders: string): Promise<RawExchange> {
  const s = await open(port);
  s.on('error', () => undefined); // EPIPE/ECONNRESET once the server hangs up
  const closed = untilClosed(s, 10_000);
  s.write(
    'POST /v1/slots/big/grants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${100 * 1024 * 1024}\r\n${extraHeaders}\r\n`,
  );
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let written = 0;
  // Write while the socket takes data; stop at the first close (the server's answer).
  while (!s.destroyed && written < 100 * 1024 * 1024) {
    const more = s.write(chunk);
    written += chunk.length;
    if (!more) {
      await new Promise<void>(resolve => {
        s.once('drain', resolve);
        s.once('close', resolve);
      });
    }
  }
  return { text: await closed, written };
}

describe('HTTP server limits', () => {
  let svc: TestService;
  let server: Server;
  let port: number;
  let url: string;
  beforeAll(async () => {
    svc = await startTestService({
      HTTP_HEADERS_TIMEOUT_MS: '500',
      HTTP_REQUEST_TIMEOUT_MS: '800',
      HTTP_MAX_CONNECTIONS: '16',
      WAIT_MAX_MS: '5000',
      RATE_LIMIT_PRINCIPAL: '0',
      RATE_LIMIT_REPLICA: '0',
    });
    server = createServer(serverOptions(svc.config), svc.app);
    applyServerLimits(server, svc.config);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>(resolve =>
      server.close(() => {
        resolve();
      }),
    );
    await svc.close();
  });

  it('answers 413 to a 100 MB body and closes the connection instead of reading it', async () => {
    const r = await hugeUpload(port, '');
    expect(r.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.text).toContain('"code":"payload_too_large"');
    expect(r.written).toBeLessThan(50 * 1024 * 1024);
  });

  it('answers 415 to a compressed body and closes the connection', async () => {
    const r = await hugeUpload(port, 'Content-Encoding: gzip\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 415 /);
    expect(r.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.written).toBeLessThan(50 * 1024 * 1024);
  });

  it('cuts off a client that sends its headers too slowly (slowloris)', async () => {
    const s = await open(port);
    const closed = untilClosed(s, 5000);
    const started = performance.now();
    s.write('GET /livez HTTP/1.1\r\nHost: x\r\n');
    const text = await closed;
    // The header timeout (500 ms, checked every 500 ms) ended it with Node's 408.
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('bounds the number of open connections', async () => {
    const held = await Promise.all(Array.from({ length: 16 }, () => open(port)));
    // Each held socket is accepted: the server answers on it.
    for (const s of held) s.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    const extra = await open(port);
    const text = await untilClosed(extra, 5000);
    expect(text).toBe('');
    for (const s of held) s.destroy();
    // Once they are gone the server takes connections again.
    await expect.poll(() => connections(server), { timeout: 5000 }).toBe(0);
    expect((await call(url, 'GET', '/livez')).status).toBe(200);
  });

  it('keeps long-polls and SSE streams alive past the request timeout', async () => {
    const held = await call(url, 'POST', '/v1/slots/lp/grants', {
      body: { holder: 'a', ttlSeconds: 30 },
    });
    expect(held.status).toBe(201);
    const ctl = new AbortController();
    const stream = await fetch(`${url}/v1/elections/lp-e/observe`, { signal: ctl.signal });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    // A long-poll of 1.5 s (request timeout: 0.8 s) ends with its own answer.
    const waited = await call(url, 'POST', '/v1/slots/lp/grants', {
      body: { holder: 'b', ttlSeconds: 30, waitMs: 1500 },
    });
    expect(waited.status).toBe(409);
    expect(waited.body.code).toBe('wait_timeout');
    // The stream opened before it still delivers the next leader.
    const c = await call(url, 'POST', '/v1/elections/lp-e/campaign', {
      body: { candidate: 'w', ttlSeconds: 30 },
    });
    expect(c.status).toBe(201);
    let seen = '';
    const deadline = Date.now() + 5000;
    while (!seen.includes('"candidate":"w"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString('utf8');
    }
    expect(seen).toContain('"candidate":"w"');
    ctl.abort();
    await call(url, 'DELETE', `/v1/slots/lp/grants/${held.body.token}`, {
      headers: { 'slotlock-secret': held.body.secret },
    });
  });
});
