/**
 * Checks real HTTP responses against the published `openapi.json` (not the zod schemas it is
 * generated from) with a JSON Schema 2020-12 validator, the way a third-party client or a
 * validating proxy would read the document.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export; under NodeNext its default is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** The parts of an OpenAPI 3.1 document this checker reads. */
interface Spec {
  paths: Record<string, Record<string, Operation | undefined>>;
  components: { schemas: Record<string, unknown> };
}

interface Operation {
  operationId: string;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses: Record<string, Response | undefined>;
}

interface Response {
  headers?: Record<string, { required?: boolean; schema?: unknown }>;
  content?: Record<string, { schema?: unknown; 'x-sse-events'?: Record<string, SseEvent> }>;
}

/** An SSE event as the document describes it in the `x-sse-events` extension. */
interface SseEvent {
  data: unknown;
}

/** One response to check: what was asked, and what came back. */
export interface ObservedResponse {
  method: string;
  /** The request path as sent (percent-encoded, with or without a query). */
  path: string;
  status: number;
  /** The Content-Type header, if any. */
  contentType?: string | null | undefined;
  /** The parsed JSON body (undefined for an empty one). */
  body: unknown;
  /** Response headers, to check the ones the document marks required. */
  headers?: Headers;
  /** The JSON request body sent, checked against the operation's request schema on a 2xx. */
  requestBody?: unknown;
}

const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const specId = 'urn:slotlock:openapi';

/** Loads and checks responses against one OpenAPI document (by default the committed one). */
export class OpenApiResponses {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp; literals: number }[];
  /** "operationId status" of every response checked so far. */
  readonly covered = new Set<string>();

  constructor(readonly spec: Spec) {
    this.ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
    addFormats(this.ajv);
    // OpenAPI 3.1's own schema keywords besides JSON Schema 2020-12.
    for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) {
      this.ajv.addKeyword(keyword);
    }
    this.ajv.addSchema({ $id: specId, $defs: rewriteRefs(spec.components.schemas) });
    this.templates = Object.keys(spec.paths).map(template => ({
      template,
      pattern: new RegExp(
        `^${template
          .split(/\{[^}]+\}/)
          .map(part => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
          .join('[^/]+')}$`,
      ),
      literals: template.split('/').filter(s => s !== '' && !s.startsWith('{')).length,
    }));
  }

  /** The document at `url` (default: the repository's committed openapi.json). */
  static load(url = new URL('../../openapi.json', import.meta.url)): OpenApiResponses {
    return new OpenApiResponses(JSON.parse(readFileSync(url, 'utf8')) as Spec);
  }

  /** Every "operationId status" the document declares, for coverage reports. */
  declared(): string[] {
    const out: string[] = [];
    for (const item of Object.values(this.spec.paths)) {
      for (const method of methods) {
        const op = item[method];
        if (op === undefined) continue;
        for (const status of Object.keys(op.responses)) out.push(`${op.operationId} ${status}`);
      }
    }
    return out.sort();
  }

  /** The path template a concrete path matches (the one with most literal segments). */
  template(path: string): string | undefined {
    const bare = path.split('?')[0] ?? path;
    return this.templates
      .filter(t => t.pattern.test(bare))
      .sort((a, b) => b.literals - a.literals)[0]?.template;
  }

  /**
   * Throws, with every violation listed, unless the document declares this status for the
   * operation, the body matches that response's schema for its media type, and every header the
   * response marks required is present. A known path with an undeclared method must be a 405
   * problem with `Allow`.
   */
  check(r: ObservedResponse): void {
    const where = `${r.method} ${r.path} -> ${r.status}`;
    const template = this.template(r.path);
    if (template === undefined) throw new Error(`${where}: no path of the document matches`);
    const op = this.spec.paths[template]?.[r.method.toLowerCase()];
    if (op === undefined) {
      if (r.status !== 405 || r.headers?.get('allow') == null) {
        throw new Error(`${where}: ${template} has no ${r.method}; expected a 405 with Allow`);
      }
      this.validate(`${where} (405)`, { $ref: '#/components/schemas/Problem' }, r.body);
      return;
    }
    const response = op.responses[String(r.status)] ?? op.responses.default;
    if (response === undefined) {
      throw new Error(
        `${where}: operation ${op.operationId} does not document status ${r.status} ` +
          `(documents ${Object.keys(op.responses).join(', ')}); body ${JSON.stringify(r.body)}`,
      );
    }
    this.covered.add(`${op.operationId} ${r.status}`);
    const requestSchema = op.requestBody?.content?.['application/json']?.schema;
    if (r.status < 300 && r.requestBody !== undefined && requestSchema !== undefined) {
      // The server took this body: the document must describe it (a generated client sends it).
      this.validate(`${where} (request body)`, requestSchema, r.requestBody);
    }
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required === true && r.headers?.get(name) == null) {
        throw new Error(`${where}: required header ${name} is missing`);
      }
    }
    const content = response.content;
    if (content === undefined) {
      if (r.body !== undefined && r.body !== '') {
        throw new Error(`${where}: the document declares no body, got ${JSON.stringify(r.body)}`);
      }
      return;
    }
    const mediaType = (r.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const media = content[mediaType];
    if (media === undefined) {
      throw new Error(
        `${where}: media type "${mediaType}" is not documented (${Object.keys(content).join(', ')})`,
      );
    }
    if (mediaType.endsWith('json')) this.validate(where, media.schema, r.body);
  }

  /** Checks one SSE event's data against the `x-sse-events` entry of the operation's 200. */
  checkEvent(method: string, path: string, event: string, data: unknown): void {
    const template = this.template(path);
    const op =
      template === undefined ? undefined : this.spec.paths[template]?.[method.toLowerCase()];
    const events = op?.responses['200']?.content?.['text/event-stream']?.['x-sse-events'];
    const described = events?.[event];
    if (described === undefined) {
      throw new Error(`${method} ${path}: SSE event "${event}" is not described in x-sse-events`);
    }
    this.covered.add(`${op?.operationId ?? '?'} event:${event}`);
    this.validate(`${method} ${path} event ${event}`, described.data, data);
  }

  private validate(where: string, schema: unknown, body: unknown): void {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(rewriteRefs(schema) as object);
      this.compiled.set(key, validate);
    }
    const errors = validate(body)
      ? []
      : (validate.errors ?? []).map(
          e => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
        );
    // Open schemas accept any extra field, but a typed client cannot read an undeclared one.
    errors.push(...this.undeclared(schema, body, ''));
    if (errors.length > 0) {
      throw new Error(
        `${where}: body does not match the document: ${errors.join('; ')}\n` +
          `body: ${JSON.stringify(body)}`,
      );
    }
  }

  /** Fields of `value` that no (sub)schema of `schema` declares, as JSON pointers. */
  private undeclared(schema: unknown, value: unknown, at: string): string[] {
    if (typeof value !== 'object' || value === null) return [];
    const parts = this.flatten(schema);
    if (Array.isArray(value)) {
      const items = parts.map(p => p.items).filter(i => i !== undefined);
      return items.length === 0
        ? []
        : value.flatMap((v, i) => this.undeclared({ anyOf: items }, v, `${at}/${i}`));
    }
    if (parts.some(p => p.additionalProperties !== undefined && p.additionalProperties !== false)) {
      return [];
    }
    const out: string[] = [];
    for (const [key, v] of Object.entries(value)) {
      const subs = parts.map(p => p.properties?.[key]).filter(p => p !== undefined);
      if (subs.length === 0) out.push(`${at}/${key} is not declared by the document`);
      else out.push(...this.undeclared({ anyOf: subs }, v, `${at}/${key}`));
    }
    return out;
  }

  /** `schema` and every schema it combines ($ref, allOf, anyOf, oneOf), refs resolved. */
  private flatten(schema: unknown, depth = 0): SchemaShape[] {
    if (typeof schema !== 'object' || schema === null || depth > 20) return [];
    const s = schema as SchemaShape;
    const ref = s.$ref?.replace('#/components/schemas/', '');
    const here =
      ref === undefined ? [s] : this.flatten(this.spec.components.schemas[ref], depth + 1);
    const combined = [...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])];
    return [...here, ...combined.flatMap(c => this.flatten(c, depth + 1))];
  }
}

/** The keywords {@link OpenApiResponses} reads to find the fields a schema declares. */
interface SchemaShape {
  $ref?: string;
  allOf?: unknown[];
  anyOf?: unknown[];
  oneOf?: unknown[];
  properties?: Record<string, unknown>;
  additionalProperties?: unknown;
  items?: unknown;
}

/** A deep copy of `schema` whose `#/components/schemas/X` refs point into the added $defs. */
function rewriteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rewriteRefs);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string'
        ? v.replace('#/components/schemas/', `${specId}#/$defs/`)
        : rewriteRefs(v),
    ]),
  );
}
