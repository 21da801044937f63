/**
 * etcd credentials (issue 14): the service against a real etcd with client TLS (certificates made
 * by openssl here) and with auth enabled (a role that can only touch ETCD_PREFIX), and what it
 * says when the credentials are wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { call, startTestService } from '../support/app.js';
import { makeCa, makeCert, type CertFiles } from '../support/certs.js';
import { eventually } from '../support/poll.js';
import { startServiceProcess } from '../support/service-process.js';

describe('etcd with client TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slotlock-etcd-tls-'));
  let ca: CertFiles;
  let client: CertFiles;
  let etcd: EtcdMember;
  let url: string;

  beforeAll(async () => {
    ca = makeCa(dir, 'etcd-ca');
    const server = makeCert(dir, ca, 'etcd-server', 'etcd', ['IP:127.0.0.1'], 'both');
    client = makeCert(dir, ca, 'etcd-client', 'slotlock', [], 'client');
    const port = await freePort();
    url = `https://127.0.0.1:${port}`;
    etcd = await startEtcdMember({
      name: 'tls',
      dataDir: join(dir, 'data'),
      clientPort: port,
      waitFor: 'listening',
      extraArgs: [
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--cert-file=${server.cert}`,
        `--key-file=${server.key}`,
        `--trusted-ca-file=${ca.cert}`,
        '--client-cert-auth=true',
      ],
    });
  });
  afterAll(async () => {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants and releases over TLS with a client certificate', async () => {
    const svc = await startTestService(
      {
        ETCD_ENDPOINTS: url,
        ETCD_CA_FILE: ca.cert,
        ETCD_CERT_FILE: client.cert,
        ETCD_KEY_FILE: client.key,
      },
      { endpoints: [url] },
    );
    try {
      const g = await call(svc.url, 'POST', '/v1/slots/tls/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(201);
      const r = await call(svc.url, 'DELETE', `/v1/slots/tls/grants/${g.body.token}`, {
        headers: { 'slotlock-secret': g.body.secret },
      });
      expect(r.status).toBe(204);
      expect((await call(svc.url, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await svc.close();
    }
  });

  it('is not ready and says so when the client certificate is missing', async () => {
    const p = await startServiceProcess({
      ETCD_ENDPOINTS: url,
      ETCD_CA_FILE: ca.cert,
      ETCD_CALL_TIMEOUT_MS: '500',
    });
    try {
      const ready = await call(p.url, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      const g = await call(p.url, 'POST', '/v1/slots/tls/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(503);
      expect(g.body.code).toBe('etcd_unavailable');
    } finally {
      await p.stop();
    }
  });
});

describe('etcd with auth enabled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slotlock-etcd-auth-'));
  const prefix = 'svc-auth/';
  let etcd: EtcdMember;

  beforeAll(async () => {
    etcd = await startEtcdMember({ name: 'auth', dataDir: join(dir, 'data') });
    const admin = new Etcd3({ hosts: [etcd.clientUrl] });
    try {
      await admin.role('root').create();
      await (await admin.user('root').create('root-pw')).addRole('root');
      const role = await admin.role('slotlock').create();
      await role.grant({ permission: 'Readwrite', range: admin.range({ prefix }) });
      await (await admin.user('slotlock').create('right-pw')).addRole('slotlock');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
  });
  afterAll(async () => {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves slots and elections with a user whose role only covers ETCD_PREFIX', async () => {
    const svc = await startTestService(
      {
        ETCD_ENDPOINTS: etcd.clientUrl,
        ETCD_PREFIX: prefix,
        ETCD_USERNAME: 'slotlock',
        ETCD_PASSWORD: 'right-pw',
      },
      { endpoints: [etcd.clientUrl] },
    );
    try {
      const g = await call(svc.url, 'POST', '/v1/slots/a/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(201);
      const kept = await call(svc.url, 'POST', `/v1/slots/a/grants/${g.body.token}/keepalive`, {
        headers: { 'slotlock-secret': g.body.secret },
      });
      expect(kept.status).toBe(200);
      const l = await call(svc.url, 'POST', '/v1/elections/e/campaign', {
        body: { candidate: 'c' },
      });
      expect(l.status).toBe(201);
      expect((await call(svc.url, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await svc.close();
    }
  });

  it('answers 503 naming the credentials when the password is wrong', async () => {
    const p = await startServiceProcess({
      ETCD_ENDPOINTS: etcd.clientUrl,
      ETCD_PREFIX: prefix,
      ETCD_USERNAME: 'slotlock',
      ETCD_PASSWORD: 'wrong-pw',
    });
    let out = '';
    p.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    try {
      expect((await call(p.url, 'GET', '/readyz')).status).toBe(503);
      const g = await call(p.url, 'POST', '/v1/slots/a/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(503);
      expect(g.body.code).toBe('etcd_unavailable');
      expect(g.body.detail).toMatch(/ETCD_USERNAME\/ETCD_PASSWORD/);
      // The startup retry loop says the same in its log line.
      const logged = await eventually(
        () => Promise.resolve(out.includes('check ETCD_USERNAME/ETCD_PASSWORD')),
        10_000,
        50,
      );
      expect(logged).toBe(true);
    } finally {
      await p.stop();
    }
  });

  it('answers 503 naming the role when ETCD_PREFIX is outside what the user may touch', async () => {
    const p = await startServiceProcess({
      ETCD_ENDPOINTS: etcd.clientUrl,
      ETCD_PREFIX: 'elsewhere/',
      ETCD_USERNAME: 'slotlock',
      ETCD_PASSWORD: 'right-pw',
    });
    try {
      const g = await call(p.url, 'POST', '/v1/slots/a/grants', { body: { holder: 'h' } });
      expect(g.status).toBe(503);
      expect(g.body.detail).toMatch(/permission/i);
      expect(g.body.detail).toMatch(/ETCD_PREFIX/);
    } finally {
      await p.stop();
    }
  });
});
