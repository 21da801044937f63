import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ElectionClient, SlotClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import type { Child } from '../support/child.js';
import { buildPackages } from '../support/packages.js';
import { runCli, startCli } from './helpers.js';

describe('slotlock read, election and admin commands', () => {
  let svc: TestService;
  let slots: SlotClient;
  let elections: ElectionClient;
  let env: Record<string, string>;
  const children: Child[] = [];

  beforeAll(async () => {
    await buildPackages();
    svc = await startTestService();
    slots = new SlotClient({ url: svc.url, retry: { baseMs: 20 } });
    elections = new ElectionClient({ url: svc.url, retry: { baseMs: 20 } });
    env = { SLOTLOCK_URL: svc.url };
  }, 180_000);
  afterEach(async () => {
    await Promise.all(children.splice(0).map(c => c.stop('SIGKILL')));
  });
  afterAll(async () => {
    await svc.close();
  });

  function start(args: string[]): Child {
    const child = startCli(args, env);
    children.push(child);
    return child;
  }

  it('ls, inspect and check print what the API answers, as text or --json', async () => {
    const grant = await slots.acquire({ slot: 'rd/a', holder: 'svc-a', ttlSeconds: 10 });
    const ls = await runCli(['ls', '--prefix', 'rd/', '--json'], env);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual({
      slots: [{ slot: 'rd/a', contenders: 1 }],
      truncated: false,
    });
    expect((await runCli(['ls', '--prefix', 'rd/'], env)).stdout).toBe('rd/a\t1\n');

    const inspect = await runCli(['inspect', 'rd/a', '--json'], env);
    expect(JSON.parse(inspect.stdout).holders).toMatchObject([
      { holder: 'svc-a', token: grant.token },
    ]);
    const text = await runCli(['inspect', 'rd/a'], env);
    expect(text.stdout).toMatch(/^slot rd\/a: capacity 1, 1 holding, 0 waiting/);
    expect(text.stdout).toContain(`token ${grant.token}\tsvc-a`);

    const current = await runCli(['check', 'rd/a', grant.token], env);
    expect(current.code).toBe(0);
    expect(current.stdout).toContain('is current');
    await grant.release();
    const stale = await runCli(['check', 'rd/a', grant.token, '--json'], env);
    expect(stale.code).toBe(3);
    expect(JSON.parse(stale.stdout)).toMatchObject({ current: false, token: grant.token });
  });

  it('leader prints the leader, and exits 3 when nobody leads', async () => {
    const none = await runCli(['leader', 'rd/e'], env);
    expect(none.code).toBe(3);
    expect(none.stdout).toMatch(/no leader/);
    const term = await elections.campaign({ election: 'rd/e', candidate: 'w1', value: 'addr-1' });
    const led = await runCli(['leader', 'rd/e', '--json'], env);
    expect(led.code).toBe(0);
    expect(JSON.parse(led.stdout).leader).toMatchObject({
      candidate: 'w1',
      value: 'addr-1',
      token: term.token,
    });
    await term.resign();
  });

  it('elect runs the command as leader with the term in its environment, then resigns', async () => {
    const run = await runCli(
      [
        'elect',
        'rd/run',
        '--value',
        'v1',
        '--',
        'sh',
        '-c',
        'echo "$SLOTLOCK_ELECTION $SLOTLOCK_TERM"',
      ],
      env,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^rd\/run \d+\n$/);
    expect((await elections.leader({ election: 'rd/run' })).leader).toBeNull();
  });

  it('elect --listen prints the leader state and every change', async () => {
    const listen = start(['elect', 'rd/listen', '--listen', '--json']);
    await listen.line(/"leader":null/);
    const term = await elections.campaign({ election: 'rd/listen', candidate: 'w2' });
    await listen.line(/"candidate":"w2"/);
    await term.resign();
    await expect.poll(() => listen.stdout().trim().split('\n').length, { timeout: 10_000 }).toBe(3);
    expect(JSON.parse(listen.stdout().trim().split('\n')[2] ?? '').leader).toBeNull();
    expect(await listen.stop('SIGTERM')).toBe(0);
  });

  it('watch prints the slot again when its holders change', async () => {
    const watch = start(['watch', 'rd/w', '--interval', '0.1']);
    await watch.line(/0 holding, 0 waiting/);
    const grant = await slots.acquire({ slot: 'rd/w', holder: 'svc-w', ttlSeconds: 10 });
    await watch.line(/1 holding/);
    await watch.line(new RegExp(`token ${grant.token}\tsvc-w`));
    await grant.release();
    await expect
      .poll(() => watch.stdout().match(/0 holding/g)?.length, { timeout: 10_000 })
      .toBe(2);
    expect(await watch.stop('SIGTERM')).toBe(0);
  });

  it('release --force ends a grant without its secret; without --force it refuses', async () => {
    const grant = await slots.acquire({ slot: 'rd/stuck', holder: 'stuck', ttlSeconds: 60 });
    const refused = await runCli(['release', 'rd/stuck', grant.token], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--force/);
    const forced = await runCli(['release', '--force', 'rd/stuck', grant.token, '--json'], env);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      slot: 'rd/stuck',
      token: grant.token,
      holder: 'stuck',
    });
    expect((await slots.inspect('rd/stuck')).holders).toEqual([]);
    const again = await runCli(['release', '--force', 'rd/stuck', grant.token], env);
    expect(again.code).toBe(3);
    await grant.release().catch(() => undefined);
  });

  it('sends --api-key (or SLOTLOCK_API_KEY) as Authorization: Bearer', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const fake = createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ slots: [], truncated: false }));
    });
    await new Promise<void>(resolve => fake.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    try {
      expect((await runCli(['ls', '--url', url, '--api-key', 'k-1'])).code).toBe(0);
      expect((await runCli(['ls', '--url', url], { SLOTLOCK_API_KEY: 'k-2' })).code).toBe(0);
    } finally {
      await new Promise(resolve => fake.close(resolve));
    }
    expect(seen.map(h => h.authorization)).toEqual(['Bearer k-1', 'Bearer k-2']);
  });

  it('explains bad usage (exit 2) and an unreachable service (exit 1) on stderr', async () => {
    const noUrl = await runCli(['ls'], { SLOTLOCK_URL: '' });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/--url or set SLOTLOCK_URL/);
    const scheme = await runCli(['ls', '--url', 'localhost:1']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/must start with http/);
    const down = await runCli(['inspect', 'x', '--url', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/unreachable/);
    expect(down.stdout).toBe('');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
  });

  it('prints --help for every command on stdout, exit 0', async () => {
    for (const cmd of [
      'lock',
      'elect',
      'leader',
      'ls',
      'inspect',
      'check',
      'watch',
      'release',
      'verify',
    ]) {
      const help = await runCli([cmd, '--help']);
      expect(help.code, cmd).toBe(0);
      expect(help.stdout, cmd).toMatch(new RegExp(`^usage: slotlock ${cmd}`));
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/exit codes:/);
  });
});
