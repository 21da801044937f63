import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
import { startTestService, type TestService } from '../support/app.js';
import { checkedCalls } from '../support/checked-calls.js';
import { OpenApiResponses } from '../support/openapi-responses.js';

// The 503 answers while etcd does not answer, checked against the committed openapi.json.
const spec = OpenApiResponses.load();
let dir: string;
let member: EtcdMember;
let svc: TestService;
const http = checkedCalls(spec, () => svc.url);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slotlock-conf-outage-'));
  member = await startEtcdMember({ name: 'conf-outage', dataDir: join(dir, 'etcd') });
  svc = await startTestService(
    { ETCD_CALL_TIMEOUT_MS: '300', READINESS_TIMEOUT_MS: '300' },
    { endpoints: [member.clientUrl] },
  );
});
afterAll(async () => {
  await svc.close();
  await member.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('responses against the published openapi.json while etcd is unreachable', () => {
  it('answers readiness, reads, writes and the status report as documented', async () => {
    const created = await http('POST', '/v1/sessions', { body: { ttlSeconds: 30 } });
    const { id } = created.body as { id: string };
    await member.pause();
    try {
      expect((await http('GET', '/readyz')).status).toBe(503);
      const acquire = await http('POST', '/v1/slots/out:a/grants', { body: { holder: 'h' } });
      expect(acquire.body.code).toBe('etcd_unavailable');
      expect((await http('GET', '/v1/slots/out:a')).status).toBe(503);
      expect((await http('GET', `/v1/sessions/${id}`)).status).toBe(503);
      expect((await http('GET', '/v1/elections/out-e/leader')).status).toBe(503);
      const campaign = await http('POST', '/v1/elections/out-e/campaign', {
        body: { candidate: 'c' },
      });
      expect(campaign.status).toBe(503);
      const status = await http('GET', '/v1/status');
      expect(status.body.etcd.ok).toBe(false);
    } finally {
      member.resume();
    }
  });
});
