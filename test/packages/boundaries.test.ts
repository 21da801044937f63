import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/packages.js';

/** Every module specifier imported (statically or dynamically) by the .ts files under `dir`. */
async function imports(dir: string): Promise<{ file: string; spec: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const found: { file: string; spec: string }[] = [];
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const path = join(e.parentPath, e.name);
    const text = await readFile(path, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      found.push({ file: relative(dir, path), spec: m[1] ?? '' });
    }
  }
  return found;
}

describe('package boundaries', () => {
  it('the client imports only its own files and Node built-ins', async () => {
    const bad = (await imports(join(repoRoot, 'packages/client/src'))).filter(
      i => !i.spec.startsWith('node:') && !/^\.\/[\w-]+\.js$/.test(i.spec),
    );
    expect(bad).toEqual([]);
  });

  it('the CLI imports only its own files, Node built-ins, the client, and etcd3 for verify', async () => {
    const bad = (await imports(join(repoRoot, 'packages/cli/src'))).filter(
      i =>
        !i.spec.startsWith('node:') &&
        !i.spec.startsWith('./') &&
        !/^\.\.\/[\w/-]+\.js$/.test(i.spec) &&
        i.spec !== '@slotlock/client' &&
        !(i.spec === 'etcd3' && i.file === 'verify/etcd-history.ts'),
    );
    expect(bad).toEqual([]);
  });
});
