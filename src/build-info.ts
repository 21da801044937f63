import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** What a replica was built from, as `slotlock_build_info` and the status page show it. */
export interface BuildInfo {
  version: string;
  /** The git commit (`SLOTLOCK_COMMIT`, else dist/build-info.json from the build), or 'unknown'. */
  commit: string;
}

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(url, 'utf8'));
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

let cached: BuildInfo | undefined;

/**
 * The version from package.json and the commit from `SLOTLOCK_COMMIT` (e.g. a Docker build arg),
 * else from build-info.json, which `npm run build` writes beside the compiled code with
 * `git rev-parse HEAD` (scripts/gen-build-info.ts); 'unknown' when neither is there.
 */
export function buildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  if (cached !== undefined && env === process.env) return cached;
  const pkg = readJson(new URL('../package.json', import.meta.url));
  const built = readJson(new URL('./build-info.json', import.meta.url));
  const fromEnv = env.SLOTLOCK_COMMIT?.trim();
  const info = {
    version: typeof pkg?.version === 'string' ? pkg.version : 'unknown',
    commit:
      fromEnv !== undefined && fromEnv !== ''
        ? fromEnv
        : typeof built?.commit === 'string' && built.commit !== ''
          ? built.commit
          : 'unknown',
  };
  if (env === process.env) cached = info;
  return info;
}

/** This replica's id in logs and on the status page: REPLICA_ID, else the host (pod) name. */
export function replicaId(configured: string | undefined): string {
  return configured ?? hostname();
}
