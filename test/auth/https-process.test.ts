/** The service process serves HTTPS when given a certificate (main.ts wiring, issue 14). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuthFiles, newApiKey } from '../support/auth.js';
import { makeCa, makeCert } from '../support/certs.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { startServiceProcess } from '../support/service-process.js';

describe('the service process over HTTPS', () => {
  it('listens with TLS and authenticates an API key sent over it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slotlock-https-'));
    const files = new AuthFiles();
    const key = newApiKey();
    files.writeKeys([{ id: 'svc', key, permissions: [{ verbs: ['acquire'], slots: [''] }] }]);
    const ca = makeCa(dir, 'ca');
    const server = makeCert(dir, ca, 'server', 'localhost', ['IP:127.0.0.1']);
    const p = await startServiceProcess({
      ETCD_ENDPOINTS: etcdEndpoints().join(','),
      ETCD_PREFIX: uniquePrefix('https'),
      AUTH_API_KEYS_FILE: files.keysFile,
      TLS_CERT_FILE: server.cert,
      TLS_KEY_FILE: server.key,
    });
    try {
      expect(String(p.started.api)).toMatch(/^https:\/\//);
      const port = Number(new URL(p.url).port);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/slots/tls-slot/grants',
            method: 'POST',
            ca: readFileSync(ca.cert),
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            timeout: 10_000,
          },
          res => {
            res.resume();
            res.on('end', () => {
              resolve(res.statusCode ?? 0);
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end('{"holder":"h"}');
      });
      expect(status).toBe(201);
    } finally {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(files.dir, { recursive: true, force: true });
    }
  });
});
