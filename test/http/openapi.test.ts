import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config.js';
import {
  fencedRecord,
  fencedWrite,
  fencedWriteRequest,
  staleReport,
  staleReportRequest,
} from '../../src/http/fencing/openapi.js';
import { buildOpenApi } from '../../src/http/openapi.js';
import { limitsOf, problem } from '../../src/http/schemas.js';
import { grantResponse, keepAliveResponse, slotView } from '../../src/http/slots/schemas.js';
import { call, startTestService, type TestService } from '../support/app.js';

const committedPath = new URL('../../openapi.json', import.meta.url);
const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** "METHOD /path/{param}" for every route layer in an Express app, nested routers included. */
function servedRoutes(app: TestService['app']): string[] {
  const found: string[] = [];
  const walk = (stack: any[]): void => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const paths: string[] = [layer.route.path].flat();
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on === true && method !== '_all') {
              found.push(`${method.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
            }
          }
        }
      } else if (Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as any).router.stack);
  return [...new Set(found)].sort();
}

function specRoutes(spec: { paths?: Record<string, object> }): string[] {
  return Object.entries(spec.paths ?? {})
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter(m => methods.includes(m))
        .map(m => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

describe('OpenAPI spec', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('is committed exactly as buildOpenApi generates it for the default configuration', () => {
    const committed: unknown = JSON.parse(readFileSync(committedPath, 'utf8'));
    const fresh: unknown = JSON.parse(JSON.stringify(buildOpenApi(limitsOf(loadConfig({})))));
    expect(committed, 'openapi.json is stale: run `npm run gen:openapi`').toEqual(fresh);
  });

  it('documents every /v1 route the app serves, with the same methods, and no others', () => {
    const spec = buildOpenApi(svc.services.limits);
    const served = servedRoutes(svc.app);
    const v1 = (routes: string[]) => routes.filter(r => r.includes(' /v1/'));
    expect(v1(served).length).toBeGreaterThan(10);
    expect(v1(specRoutes(spec)), 'paths in the spec vs routes in src/http/*/routes.ts').toEqual(
      v1(served),
    );
    // Outside /v1 (probes, metrics) the spec documents only routes that exist.
    expect(served).toEqual(expect.arrayContaining(specRoutes(spec)));
  });

  it('serves the spec at /openapi.json', async () => {
    const r = await call(svc.url, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body.openapi).toBe('3.1.0');
    expect(r.body.info.title).toBe('slotlock');
    expect(r.body.paths['/v1/slots/{slot}/grants'].post.operationId).toBe('acquire');
  });

  it('serves Swagger UI at /docs/ with every asset it references from this server', async () => {
    const redirect = await fetch(`${svc.url}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/docs/');

    const page = await fetch(`${svc.url}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const refs = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map(m => m[1] ?? '');
    expect(refs).toContain('./swagger-ui-bundle.js');
    expect(
      refs.filter(ref => /^(https?:)?\/\//.test(ref)),
      'no CDN',
    ).toEqual([]);
    for (const ref of refs) {
      const asset = await fetch(new URL(ref, `${svc.url}/docs/`));
      expect(asset.status, ref).toBe(200);
      await asset.arrayBuffer();
    }
    const init = await (await fetch(`${svc.url}/docs/swagger-ui-init.js`)).text();
    expect(init).toContain('"swaggerUrl": "../openapi.json"');
  });

  it('answers an unknown docs asset with a problem+json 404', async () => {
    const r = await call(svc.url, 'GET', '/docs/no-such-asset.js');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('describes real grant, keepalive, slot and problem responses', async () => {
    const spec = buildOpenApi(svc.services.limits);
    const acquire = (spec.paths?.['/v1/slots/{slot}/grants'] as any).post;
    expect(acquire.responses['201'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Grant',
    });

    const granted = await call(svc.url, 'POST', '/v1/slots/openapi:grant/grants', {
      body: { holder: 'spec-check', ttlSeconds: 5 },
    });
    expect(granted.status).toBe(201);
    z.strictObject(grantResponse.shape).parse(granted.body);
    const grantSchema = spec.components?.schemas?.Grant as { required: string[] };
    expect([...grantSchema.required].sort()).toEqual(Object.keys(granted.body).sort());

    const { token, secret } = granted.body as { token: string; secret: string };
    const kept = await call(svc.url, 'POST', `/v1/slots/openapi:grant/grants/${token}/keepalive`, {
      headers: { 'slotlock-secret': secret },
    });
    expect(kept.status).toBe(200);
    z.strictObject(keepAliveResponse.shape).parse(kept.body);

    const view = await call(svc.url, 'GET', '/v1/slots/openapi:grant');
    z.strictObject(slotView.shape).parse(view.body);

    const busy = await call(svc.url, 'POST', '/v1/slots/openapi:grant/grants', {
      body: { holder: 'second' },
    });
    expect(busy.status).toBe(409);
    problem.parse(busy.body);
    const conflict = acquire.responses['409'];
    expect(
      conflict.content['application/problem+json'].schema.allOf[1].properties.code.enum,
    ).toContain(busy.body.code);
    expect(busy.body.type).toBe(`urn:slotlock:problem:${busy.body.code as string}`);
  });

  it('describes real fenced writes, reads and stale reports', async () => {
    const slot = 'openapi:fenced';
    const g = await call(svc.url, 'POST', `/v1/slots/${slot}/grants`, {
      body: { holder: 'spec-check', ttlSeconds: 5 },
    });
    expect(g.status).toBe(201);
    const { token, secret } = g.body as { token: string; secret: string };

    const write = fencedWriteRequest.parse({ token, value: 'cursor=7' });
    const written = await call(svc.url, 'PUT', `/v1/slots/${slot}/fenced/cursor`, {
      body: write,
      headers: { 'slotlock-secret': secret },
    });
    expect(written.status).toBe(200);
    z.strictObject(fencedWrite.shape).parse(written.body);

    const read = await call(svc.url, 'GET', `/v1/slots/${slot}/fenced/cursor`);
    expect(read.status).toBe(200);
    z.strictObject(fencedRecord.shape).parse(read.body);

    const report = staleReportRequest.parse({ token, highestSeen: token, resource: 'orders-db' });
    const reported = await call(svc.url, 'POST', `/v1/slots/${slot}/stale-reports`, {
      body: report,
    });
    expect(reported.status).toBe(202);
    z.strictObject(staleReport.shape).parse(reported.body);
  });
});
