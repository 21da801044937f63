import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlotClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import type { Child } from '../support/child.js';
import { buildPackages } from '../support/packages.js';
import { revokeLeaseOf } from '../client/etcd-probe.js';
import { runCli, startCli } from './helpers.js';

describe('slotlock lock', () => {
  let svc: TestService;
  let slots: SlotClient;
  const children: Child[] = [];

  beforeAll(async () => {
    await buildPackages();
    svc = await startTestService();
    slots = new SlotClient({ url: svc.url, retry: { baseMs: 20 } });
  }, 180_000);
  afterEach(async () => {
    await Promise.all(children.splice(0).map(c => c.stop('SIGKILL')));
  });
  afterAll(async () => {
    await svc.close();
  });

  function start(args: string[]): Child {
    const child = startCli(args, { SLOTLOCK_URL: svc.url });
    children.push(child);
    return child;
  }

  it('runs the command with the slot and token in its environment and exits with its status', async () => {
    const run = await runCli(
      [
        'lock',
        'lk/a',
        '--ttl',
        '5',
        '--',
        'sh',
        '-c',
        'echo "$SLOTLOCK_SLOT $SLOTLOCK_TOKEN"; exit 7',
      ],
      { SLOTLOCK_URL: svc.url },
    );
    expect(run.code).toBe(7);
    expect(run.stdout).toMatch(/^lk\/a \d+\n$/);
    expect(run.stderr).toMatch(/holding slot "lk\/a" with token \d+/);
    // Released once the command exited.
    expect((await slots.inspect('lk/a')).holders).toEqual([]);
  });

  it('exits 3 without running the command when the slot stays busy', async () => {
    const held = await slots.acquire({ slot: 'lk/busy', holder: 'other', ttlSeconds: 10 });
    const run = await runCli(['lock', 'lk/busy', '--wait', '0.3', '--', 'sh', '-c', 'echo ran'], {
      SLOTLOCK_URL: svc.url,
    });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/wait_timeout/);
    await held.release();
  });

  it('stops the command with SIGTERM when the grant is lost, and exits 4', async () => {
    const script = 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 0.05; done';
    const lock = start(['lock', 'lk/lost', '--ttl', '6', '--grace', '5', '--', 'sh', '-c', script]);
    await lock.line(/^started$/);
    const [holder] = (await slots.inspect('lk/lost')).holders;
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, holder?.token ?? '');
    // The next keepalive (TTL/3) learns of the loss.
    await lock.line(/^got-term$/, 10_000);
    expect(await lock.exited).toBe(4);
    expect(lock.stderr()).toMatch(/lost the grant of slot "lk\/lost".*grant_gone/);
  });

  it('kills a command that ignores SIGTERM after the grace period', async () => {
    const script = 'trap "" TERM; echo started; while :; do sleep 0.05; done';
    const lock = start([
      'lock',
      'lk/stubborn',
      '--ttl',
      '6',
      '--grace',
      '0.5',
      '--',
      'sh',
      '-c',
      script,
    ]);
    await lock.line(/^started$/);
    const [holder] = (await slots.inspect('lk/stubborn')).holders;
    await revokeLeaseOf(svc.client, svc.config.ETCD_PREFIX, holder?.token ?? '');
    expect(await lock.exited).toBe(4);
    expect(lock.stderr()).toMatch(/SIGKILL in 500 ms/);
  });

  it('passes SIGTERM on to the command and releases the slot', async () => {
    const script = 'trap "echo bye; exit 5" TERM; echo started; while :; do sleep 0.05; done';
    const lock = start(['lock', 'lk/term', '--', 'sh', '-c', script]);
    await lock.line(/^started$/);
    lock.proc.kill('SIGTERM');
    expect(await lock.exited).toBe(5);
    expect(lock.stdout()).toBe('started\nbye\n');
    expect((await slots.inspect('lk/term')).holders).toEqual([]);
  });

  it('exits 127 when the command cannot be started, and 2 without a command', async () => {
    const missing = await runCli(['lock', 'lk/x', '--', 'no-such-command-here'], {
      SLOTLOCK_URL: svc.url,
    });
    expect(missing.code).toBe(127);
    expect((await slots.inspect('lk/x')).holders).toEqual([]);
    const usage = await runCli(['lock', 'lk/x'], { SLOTLOCK_URL: svc.url });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/no command: put it after --/);
  });
});
