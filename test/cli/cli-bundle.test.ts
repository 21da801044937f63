import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlotClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { buildPackages } from '../support/packages.js';
import { runCli } from './helpers.js';

describe('slotlock bundle', () => {
  let svc: TestService;
  let slots: SlotClient;

  beforeAll(async () => {
    await buildPackages();
    svc = await startTestService();
    slots = new SlotClient({ url: svc.url, retry: { baseMs: 20 } });
  }, 180_000);
  afterAll(async () => {
    await svc.close();
  });

  it('runs the command holding every slot with one token, then releases them all', async () => {
    const run = await runCli(
      [
        'bundle',
        'bd/driver',
        'bd/zone@3',
        '--ttl',
        '5',
        '--',
        'sh',
        '-c',
        'echo "$SLOTLOCK_SLOTS $SLOTLOCK_TOKEN"; exit 5',
      ],
      { SLOTLOCK_URL: svc.url },
    );
    expect(run.code, run.stderr).toBe(5);
    expect(run.stdout).toMatch(/^bd\/driver,bd\/zone \d+\n$/);
    expect((await slots.inspect('bd/driver')).holders).toEqual([]);
    expect((await slots.inspect('bd/zone')).holders).toEqual([]);
  });

  it('exits 3 without running the command when a slot is busy, taking none of them', async () => {
    const held = await slots.acquire({ slot: 'bd/vehicle', holder: 'other' });
    const run = await runCli(['bundle', 'bd/driver2', 'bd/vehicle', '--', 'true'], {
      SLOTLOCK_URL: svc.url,
    });
    expect(run.code).toBe(3);
    expect((await slots.inspect('bd/driver2')).holders).toEqual([]);
    await held.release();
  });
});
