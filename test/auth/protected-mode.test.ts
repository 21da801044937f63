/** Protected mode (issue 14): without authentication the service listens on loopback only. */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AuthFiles, newApiKey } from '../support/auth.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { startServiceProcess } from '../support/service-process.js';

const base = () => ({ ETCD_ENDPOINTS: etcdEndpoints().join(','), ETCD_PREFIX: uniquePrefix('pm') });

describe('protected mode', () => {
  it('refuses to bind a non-loopback HOST without authentication, naming both variables', async () => {
    const start = startServiceProcess({ ...base(), HOST: '0.0.0.0' }, 20_000);
    const err = await start.then(
      async p => {
        await p.stop();
        return new Error('it started');
      },
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/exited with 1 before listening/);
    expect(err.message).toContain('HOST=0.0.0.0');
    expect(err.message).toContain('SLOTLOCK_INSECURE_NO_AUTH=true');
    expect(err.message).toContain('AUTH_API_KEYS_FILE');
  });

  it('listens on loopback by default with ETCD_ENDPOINTS set and no authentication', async () => {
    const p = await startServiceProcess(base());
    try {
      expect(p.started.host).toBe('127.0.0.1');
      expect((await fetch(`${p.url}/livez`)).status).toBe(200);
    } finally {
      await p.stop();
    }
  });

  it('binds every interface with the explicit opt-out or with authentication configured', async () => {
    const optOut = await startServiceProcess({
      ...base(),
      HOST: '0.0.0.0',
      SLOTLOCK_INSECURE_NO_AUTH: 'true',
    });
    try {
      expect(optOut.started.host).toBe('0.0.0.0');
    } finally {
      await optOut.stop();
    }
    const files = new AuthFiles();
    try {
      files.writeKeys([{ id: 'k', key: newApiKey(), permissions: [] }]);
      const authed = await startServiceProcess({ ...base(), AUTH_API_KEYS_FILE: files.keysFile });
      try {
        expect(authed.started.host).toBe('0.0.0.0');
        const r = await fetch(`${authed.url}/v1/slots/a/grants`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        });
        expect(r.status).toBe(401);
      } finally {
        await authed.stop();
      }
    } finally {
      rmSync(files.dir, { recursive: true, force: true });
    }
  });

  it('exits 1 with a clear message when the API key file is invalid', async () => {
    const files = new AuthFiles();
    try {
      files.writeKeys([{ id: 'bad id with spaces', key: newApiKey(), permissions: [] }]);
      const err = await startServiceProcess(
        { ...base(), AUTH_API_KEYS_FILE: files.keysFile },
        20_000,
      ).then(
        async p => {
          await p.stop();
          return new Error('it started');
        },
        (e: unknown) => e as Error,
      );
      expect(err.message).toMatch(/exited with 1 before listening/);
      expect(err.message).toContain('invalid API key file at /keys/0/id');
    } finally {
      rmSync(files.dir, { recursive: true, force: true });
    }
  });
});
