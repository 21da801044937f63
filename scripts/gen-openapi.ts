/**
 * Writes openapi.json (the OpenAPI 3.1 spec for the default configuration) at the repo root,
 * pretty-printed with object keys sorted so regenerating it gives a stable diff.
 * Run: npm run gen:openapi   (test/http/openapi.test.ts fails when the committed file is stale)
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { buildOpenApi } from '../src/http/openapi.js';
import { limitsOf } from '../src/http/schemas.js';

/** `value` with every object's keys in sorted order (arrays keep their order). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
}

const path = fileURLToPath(new URL('../openapi.json', import.meta.url));
const spec = buildOpenApi(limitsOf(loadConfig({})));
await writeFile(path, `${JSON.stringify(sortKeys(spec), null, 2)}\n`);
console.log(`wrote ${path}`);
