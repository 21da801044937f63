import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectionClient } from '@slotlock/client';
import { startTestService, type TestService } from '../support/app.js';
import { startChild } from '../support/child.js';

const example = new URL('../../examples/dispatch-worker.ts', import.meta.url).pathname;

describe('examples/dispatch-worker.ts', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('dispatches while it leads and resigns on SIGTERM', async () => {
    const worker = startChild(
      process.execPath,
      ['--import', 'tsx', example, '--election', 'ex/w', '--id', 'w1', '--round-ms', '50'],
      { env: { ...process.env, SLOTLOCK_URL: svc.url } },
    );
    try {
      await worker.line(/"event":"elected"/);
      await worker.line(/"event":"write","round":2/);
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(worker.stdout()).toMatch(/"event":"stopped"/);
      const { leader } = await new ElectionClient({ url: svc.url }).leader({ election: 'ex/w' });
      expect(leader).toBeNull();
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
