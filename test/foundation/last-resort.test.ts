import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../support/app.js';
import { etcdEndpoints, uniquePrefix } from '../support/etcd.js';
import { until } from '../support/poll.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const fixture = fileURLToPath(new URL('../fixtures/fail-on-signal.ts', import.meta.url));
const running: ServiceProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.stop(2000);
});

/** Issue 13, item 4: a fatal error is logged and drained, never a silent exit. */
describe('last-resort handlers', () => {
  for (const [signal, kind] of [
    ['SIGUSR2', 'uncaughtException'],
    ['SIGWINCH', 'unhandledRejection'],
  ] as const) {
    it(`log an ${kind} at fatal, drain (waiters answered 503 draining) and exit 1`, async () => {
      const svc = await startServiceProcess({
        ETCD_ENDPOINTS: etcdEndpoints().join(','),
        ETCD_PREFIX: uniquePrefix('last-resort'),
        NODE_OPTIONS: `--import tsx --import ${fixture}`,
      });
      running.push(svc);
      const lines: Record<string, unknown>[] = [];
      svc.child.stdout?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      });
      const path = '/v1/slots/last-resort/grants';
      const held = await call(svc.url, 'POST', path, { body: { holder: 'a', ttlSeconds: 30 } });
      expect(held.status).toBe(201);
      const waiting = call(svc.url, 'POST', path, {
        body: { holder: 'b', waitMs: 20_000 },
        timeoutMs: 25_000,
      });
      await until('the waiter queued', async () => {
        const view = await call(svc.url, 'GET', '/v1/slots/last-resort');
        return view.body.waiting >= 1 ? true : undefined;
      });
      svc.child.kill(signal);
      const answer = await waiting;
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('draining');
      expect(await svc.exited).toBe(1);
      const fatal = lines.find(l => l.level === 60);
      expect(fatal?.msg).toMatch(new RegExp(`^${kind}: injected`));
      expect((fatal?.err as { stack?: string } | undefined)?.stack).toMatch(/fail-on-signal/);
      expect(lines.some(l => String(l.msg).startsWith('draining'))).toBe(true);
    });
  }
});
