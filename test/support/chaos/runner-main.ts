/**
 * Entry of a chaos runner process: `node --import tsx runner-main.ts <suite.json>`. Exits 0 once
 * every scenario's artifacts are written, 1 on any error (with the error on stderr).
 */
import { readFileSync } from 'node:fs';
import { runSuite } from './runner.js';
import type { SuiteSpec } from './scenarios.js';

const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as SuiteSpec;
try {
  await runSuite(spec);
  process.exit(0);
} catch (err) {
  process.stderr.write(
    `chaos runner failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
