import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { advanceRevision } from '../../src/etcd/advance-revision.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { withTempDir } from '../support/etcd.js';
import { pollValue } from '../support/poll.js';

const run = promisify(execFile);

/** Takes and releases `slot` once; answers the grant's fencing token. */
async function grantOnce(svc: TestService, slot: string): Promise<bigint> {
  const g = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
    body: { holder: 'h', ttlSeconds: 30 },
  });
  expect(g.status, JSON.stringify(g.body)).toBe(201);
  const released = await call(svc.url, 'DELETE', `/v1/slots/${slot}/grants/${g.body.token}`, {
    headers: { 'slotlock-secret': g.body.secret },
  });
  expect(released.status).toBe(204);
  return BigInt(g.body.token);
}

const port = (url: string) => Number(new URL(url).port);

describe('etcd restored from a snapshot (issue 13, item 14)', () => {
  it('never repeats a fencing token: refuses to grant until the revision is advanced past the old one', async () => {
    await withTempDir(async dir => {
      let member: EtcdMember = await startEtcdMember({ name: 'rst', dataDir: join(dir, 'a') });
      const { clientUrl, peerUrl } = member;
      let svc: TestService | undefined;
      try {
        svc = await startTestService({ ETCD_CALL_TIMEOUT_MS: '1000' }, { endpoints: [clientUrl] });
        await grantOnce(svc, 'r');
        const snapshot = join(dir, 'snap.db');
        await run('etcdctl', ['--endpoints', clientUrl, 'snapshot', 'save', snapshot]);
        // Grants after the backup: their tokens are lost with the old cluster.
        let before = 0n;
        for (let i = 0; i < 5; i++) before = await grantOnce(svc, 'r');

        await member.stop();
        await run('etcdctl', [
          'snapshot',
          'restore',
          snapshot,
          '--name=rst',
          `--data-dir=${join(dir, 'b')}`,
          `--initial-cluster=rst=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          '--initial-cluster-token=slotlock-rst',
        ]);
        member = await startEtcdMember({
          name: 'rst',
          dataDir: join(dir, 'b'),
          clientPort: port(clientUrl),
          peerPort: port(peerUrl),
        });

        const service = svc;
        const refused = await pollValue(
          () => call(service.url, 'POST', '/v1/slots/r/grants', { body: { holder: 'h2' } }),
          r => r.status !== 503 || r.body.code !== 'etcd_unavailable',
          15_000,
          100,
        );
        if (refused.status === 201) {
          // What today's code does: a token at or below one granted before the restore.
          expect(BigInt(refused.body.token)).toBeGreaterThan(before);
        }
        expect(refused.status).toBe(503);
        expect(refused.body.code).toBe('etcd_restored');
        expect(refused.headers.get('retry-after')).not.toBeNull();

        // The operator's one-line command, past the high-water the replicas exported.
        const metrics = String((await call(svc.url, 'GET', '/metrics')).body);
        const highWater = BigInt(/^slotlock_etcd_revision (\d+)$/m.exec(metrics)?.[1] ?? '0');
        expect(highWater).toBeGreaterThanOrEqual(before);
        await advanceRevision(svc.client, highWater);

        const granted = await call(svc.url, 'POST', '/v1/slots/r/grants', {
          body: { holder: 'h2' },
        });
        expect(granted.status).toBe(201);
        expect(BigInt(granted.body.token)).toBeGreaterThan(before);
      } finally {
        await svc?.close();
        await member.stop();
      }
    });
  }, 60_000);
});
