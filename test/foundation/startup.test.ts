import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const running: ServiceProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const p of running) await p.stop(5000);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Runs src/main.ts to its exit (SIGKILL after `timeoutMs`); resolves with its code and output. */
function runToExit(env: Record<string, string>, timeoutMs = 20_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>(resolve => {
    child.once('exit', code => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A digit run, a path or a timestamp in a log message, made comparable across runs. */
function shape(msg: string): string {
  return msg.replace(/\/[^\s),]+/g, '<path>').replace(/\d+/g, 'N');
}

describe('starting the service', () => {
  it('exits 1 with one line naming PORT when the port is already in use', async () => {
    const taken: Server = createServer();
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const r = await runToExit({
        PORT: String(port),
        HOST: '127.0.0.1',
        ETCD_ENDPOINTS: etcdEndpoints().join(','),
        ETCD_PREFIX: uniquePrefix('port'),
      });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toEqual([
        `slotlock: port ${port} on 127.0.0.1 is already in use: set PORT to a free port (or stop the process listening there)`,
      ]);
      expect(r.stdout).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it('drains and exits 0 on a SIGTERM sent the moment it announces itself', async () => {
    // A signal that arrived before its handler existed killed the process undrained.
    for (let i = 0; i < 2; i++) {
      const svc = await startServiceProcess({
        ETCD_ENDPOINTS: etcdEndpoints().join(','),
        ETCD_PREFIX: uniquePrefix('sigterm'),
      });
      running.push(svc);
      const code = await svc.stop(10_000);
      expect(code, `run ${i}: ${svc.child.signalCode ?? ''} ${svc.stderr()}`).toBe(0);
    }
  }, 60_000);

  it('logs the startup line the README shows (a JSON line on stdout)', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = /^(\{"level":30,.*"msg":"slotlock listening on .*\})$/m.exec(readme)?.[1];
    expect(shown, 'the README shows the startup log line').toBeDefined();
    const claimed = JSON.parse(shown ?? '{}') as Record<string, unknown>;

    const dir = await mkdtemp(join(tmpdir(), 'slotlock-startup-'));
    dirs.push(dir);
    const svc = await startServiceProcess({ ETCD_DATA_DIR: join(dir, 'etcd'), ETCD_ENDPOINTS: '' });
    running.push(svc);
    const real = svc.started;
    expect(Object.keys(real)).toEqual(expect.arrayContaining(Object.keys(claimed)));
    expect(shape(String(claimed.msg))).toBe(shape(String(real.msg)));
    const code = await svc.stop();
    expect(code, `${svc.child.signalCode ?? ''} ${svc.stderr()}`).toBe(0);
  }, 60_000);
});
