import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { OpenApiResponses } from '../support/openapi-responses.js';

// The published document as third-party tools read it: a spec validator, then the rules a
// generated client and a validating proxy depend on.
const text = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
const methods = ['get', 'put', 'post', 'delete', 'patch'];

interface Op {
  operationId: string;
  requestBody?: unknown;
  security?: unknown[];
  responses: Record<string, { content?: Record<string, unknown> }>;
}

function operations(): { name: string; path: string; op: Op }[] {
  const doc = JSON.parse(text) as { paths: Record<string, Record<string, Op | undefined>> };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    methods.flatMap(m => {
      const op = item[m];
      return op === undefined ? [] : [{ name: `${m.toUpperCase()} ${path}`, path, op }];
    }),
  );
}

describe('openapi.json under third-party tools', () => {
  it('passes swagger-parser validation (OpenAPI 3.1 schema and $refs)', async () => {
    const api = await SwaggerParser.validate(JSON.parse(text) as never);
    expect(api.info.title).toBe('slotlock');
  });

  it('compiles every component schema with a strict JSON Schema 2020-12 validator', () => {
    // The constructor adds all components to ajv (strict mode): unknown keywords fail here.
    const checker = OpenApiResponses.load();
    expect(Object.keys(checker.spec.components.schemas).length).toBeGreaterThan(10);
  });

  it('documents 413 and 415 on exactly the operations that take a body', () => {
    const wrong = operations()
      .filter(({ op }) => {
        const hasBody = op.requestBody !== undefined;
        return hasBody !== '413' in op.responses || hasBody !== '415' in op.responses;
      })
      .map(o => o.name);
    expect(wrong).toEqual([]);
  });

  it('declares probes and metrics public with an empty security requirement', () => {
    const probes = operations().filter(o => ['/livez', '/readyz', '/metrics'].includes(o.path));
    expect(probes).toHaveLength(3);
    for (const { name, op } of probes) expect(op.security, name).toEqual([]);
  });

  it('describes the data of every SSE event with a schema', () => {
    const schemas = OpenApiResponses.load().spec.components.schemas;
    const streams = operations().flatMap(({ name, op }) =>
      Object.values(op.responses).flatMap(r => {
        const media = r.content?.['text/event-stream'] as
          { 'x-sse-events'?: Record<string, { data?: { $ref?: string } }> } | undefined;
        return media === undefined ? [] : [{ name, events: media['x-sse-events'] ?? {} }];
      }),
    );
    expect(streams.map(s => s.name)).toContain('GET /v1/elections/{name}/observe');
    for (const { name, events } of streams) {
      expect(Object.keys(events).length, name).toBeGreaterThan(0);
      for (const [event, e] of Object.entries(events)) {
        const ref = e.data?.$ref?.replace('#/components/schemas/', '') ?? '';
        expect(schemas[ref], `${name}: event ${event}`).toBeDefined();
      }
    }
    const observe = streams.find(s => s.name === 'GET /v1/elections/{name}/observe');
    expect(Object.keys(observe?.events ?? {}).sort()).toEqual(['leader', 'problem']);
  });
});
