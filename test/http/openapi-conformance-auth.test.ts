import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/app.js';
import { AuthFiles, bearer, newApiKey, type TestKey } from '../support/auth.js';
import { checkedCalls } from '../support/checked-calls.js';
import { OpenApiResponses } from '../support/openapi-responses.js';

// With authentication on: 401 and 403 bodies and the two-credential calls, checked against the
// committed openapi.json (forbidden carries extension fields a typed client reads).
const spec = OpenApiResponses.load();
const files = new AuthFiles();
const worker: TestKey = {
  id: 'worker',
  key: newApiKey(),
  permissions: [{ verbs: ['acquire', 'read'], slots: ['orders/'] }],
};
let svc: TestService;
const http = checkedCalls(spec, () => svc.url);

beforeAll(async () => {
  files.writeKeys([worker]);
  svc = await startTestService({ AUTH_API_KEYS_FILE: files.keysFile });
});
afterAll(async () => {
  await svc.close();
  rmSync(files.dir, { recursive: true, force: true });
});

describe('responses against the published openapi.json with authentication on', () => {
  it('answers 401 without a credential and 403 outside the permissions', async () => {
    const none = await http('POST', '/v1/slots/orders%2F1/grants', { body: { holder: 'h' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrongKey = await http('GET', '/v1/slots/orders%2F1', { headers: bearer(newApiKey()) });
    expect(wrongKey.status).toBe(401);
    const elsewhere = await http('POST', '/v1/slots/billing%2F1/grants', {
      body: { holder: 'h' },
      headers: bearer(worker.key),
    });
    expect(elsewhere.body).toMatchObject({ code: 'forbidden', verb: 'acquire' });
  });

  it('takes the caller credential and the holder secret side by side; probes stay public', async () => {
    const g = await http('POST', '/v1/slots/orders%2F2/grants', {
      body: { holder: 'h' },
      headers: bearer(worker.key),
    });
    expect(g.status).toBe(201);
    const { token, secret } = g.body as { token: string; secret: string };
    const both = { ...bearer(worker.key), 'slotlock-secret': secret };
    const path = `/v1/slots/orders%2F2/grants/${token}`;
    expect((await http('POST', `${path}/keepalive`, { headers: both })).status).toBe(200);
    expect((await http('DELETE', path, { headers: both })).status).toBe(204);
    expect((await http('GET', '/livez')).status).toBe(200);
    expect((await http('GET', '/readyz')).status).toBe(200);
  });
});
