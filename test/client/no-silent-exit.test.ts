import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/app.js';
import { startChild, type Child } from '../support/child.js';
import { revokeLeaseOf } from './etcd-probe.js';

const fixture = new URL('../fixtures/client-holder.ts', import.meta.url).pathname;

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>(resolve =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('a process using the client', () => {
  let svc: TestService;
  const children: Child[] = [];

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(c => c.stop('SIGKILL')));
  });
  afterAll(async () => {
    await svc.close();
  });

  function run(...args: string[]): Child {
    const child = startChild(process.execPath, ['--import', 'tsx', fixture, ...args]);
    children.push(child);
    return child;
  }

  it('stays alive while it leads and only awaits the loss signal, then learns the loss', async () => {
    const leader = run('leader', svc.url, 'quiet-leader');
    const token = /^elected (\d+)$/.exec(await leader.line(/^elected \d+$/))?.[1] ?? '';
    // The leader's keepalive keeps it running: it is still there to see its term revoked.
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, token);
    expect(await leader.line(/^lost /)).toBe('lost grant_gone');
    expect(await leader.exited).toBe(0);
  });

  it('gets a typed error from acquire() against a server that is down, instead of exiting mid-retry', async () => {
    const port = await closedPort();
    const client = run('acquire', `http://127.0.0.1:${port}`, 'down/slot');
    expect(await client.exited).toBe(0);
    expect(client.stdout().trim()).toBe('failed unreachable');
  });
});
