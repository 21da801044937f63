/** Code blocks of one README section, so that tests can run them literally. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../support/packages.js';

/** One fenced code block: its language tag and its text. */
export interface CodeBlock {
  lang: string;
  code: string;
}

/** The fenced code blocks under the `## <heading>` of README.md, up to the next `## `. */
export async function readmeBlocks(heading: string): Promise<CodeBlock[]> {
  const text = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${heading}"`);
  const next = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(m => ({
    lang: m[1] ?? '',
    code: m[2] ?? '',
  }));
}

/** Blocks whose first line names a file (`// lock.mjs`), by that name. */
export function namedFiles(blocks: readonly CodeBlock[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const b of blocks) {
    const name = /^\/\/ (\S+\.(?:mjs|cjs))\n/.exec(b.code)?.[1];
    if (name !== undefined) files.set(name, b.code);
  }
  return files;
}
