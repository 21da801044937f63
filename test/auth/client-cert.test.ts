/** HTTPS with client certificates (issue 14): known cert accepted, unknown refused, reload. */
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createListener, type Listener } from '../../src/auth/tls-server.js';
import { AuthFiles } from '../support/auth.js';
import { startTestService, type TestService } from '../support/app.js';
import { makeCa, makeCert, type CertFiles } from '../support/certs.js';
import { pollValue } from '../support/poll.js';

interface Answer {
  status: number;
  body: any;
  fingerprint: string;
  protocol: string | null;
}

describe('HTTPS and client certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slotlock-pki-'));
  const files = new AuthFiles();
  let ca: CertFiles;
  let server: CertFiles;
  let billing: CertFiles;
  let stranger: CertFiles;
  let svc: TestService;
  let listener: Listener;
  let port: number;

  beforeAll(async () => {
    ca = makeCa(dir, 'ca');
    const otherCa = makeCa(dir, 'other-ca');
    server = makeCert(dir, ca, 'server', 'localhost', ['IP:127.0.0.1', 'DNS:localhost']);
    billing = makeCert(dir, ca, 'billing', 'billing.internal', ['DNS:billing.internal'], 'client');
    stranger = makeCert(dir, otherCa, 'stranger', 'billing.internal', [], 'client');
    files.writeKeys(
      [],
      [
        {
          id: 'billing',
          subject: 'billing.internal',
          permissions: [{ verbs: ['acquire'], slots: ['billing/'] }],
        },
      ],
    );
    const env = {
      AUTH_API_KEYS_FILE: files.keysFile,
      TLS_CERT_FILE: server.cert,
      TLS_KEY_FILE: server.key,
      TLS_CLIENT_CA_FILE: ca.cert,
    };
    svc = await startTestService(env);
    listener = createListener(svc.app, svc.config, pino({ level: 'silent' }));
    await new Promise<void>(resolve => listener.server.listen(0, '127.0.0.1', resolve));
    port = (listener.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    listener.server.closeAllConnections();
    await new Promise<void>(resolve => {
      listener.server.close(() => {
        resolve();
      });
    });
    listener.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(files.dir, { recursive: true, force: true });
  });

  function post(path: string, client: CertFiles | undefined): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          ca: readFileSync(ca.cert),
          ...(client === undefined
            ? {}
            : { cert: readFileSync(client.cert), key: readFileSync(client.key) }),
          headers: { 'content-type': 'application/json' },
          agent: false,
          timeout: 10_000,
        },
        res => {
          const socket = res.socket as unknown as Pick<
            TLSSocket,
            'getPeerCertificate' | 'getProtocol'
          >;
          const fingerprint = socket.getPeerCertificate().fingerprint256;
          const protocol = socket.getProtocol();
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), fingerprint, protocol });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(JSON.stringify({ holder: 'h' }));
    });
  }

  it('takes the principal from a client certificate the CA signed, with its permissions', async () => {
    const ok = await post('/v1/slots/billing%2F1/grants', billing);
    expect(ok.status).toBe(201);
    expect(ok.protocol).toMatch(/^TLSv1\.[23]$/);
    const elsewhere = await post('/v1/slots/orders%2F1/grants', billing);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.principal).toBe('cert:billing');
  });

  it('refuses the handshake of an unknown client certificate and of a client without one', async () => {
    await expect(post('/v1/slots/billing%2F2/grants', stranger)).rejects.toThrow();
    await expect(post('/v1/slots/billing%2F3/grants', undefined)).rejects.toThrow();
  });

  it('serves a replaced certificate to new connections without a restart', async () => {
    const before = (await post('/v1/slots/billing%2F4/grants', billing)).fingerprint;
    const next = makeCert(dir, ca, 'server-next', 'localhost', ['IP:127.0.0.1']);
    // Key first, then certificate: each rename is atomic, as with a Secret update.
    renameSync(next.key, server.key);
    renameSync(next.cert, server.cert);
    listener.reload();
    const after = await pollValue(
      () => post('/v1/slots/billing%2F5/grants', billing).then(a => a.fingerprint),
      fp => fp !== before,
      10_000,
      50,
    );
    expect(after).not.toBe(before);
  });
});
