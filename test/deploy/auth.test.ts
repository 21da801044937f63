/** The deploy files run with authentication on (issue 14). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiKeyTable } from '../../src/auth/api-keys.js';
import { repoPath } from './deploy-support.js';

interface Container {
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}

describe('deploy files with authentication', () => {
  it('compose mounts the API key directory and points AUTH_API_KEYS_FILE into it', () => {
    const compose = parse(readFileSync(repoPath('deploy/compose.yaml'), 'utf8')) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
    };
    const slotlock = compose.services.slotlock;
    expect(slotlock?.environment?.AUTH_API_KEYS_FILE).toBe('/etc/slotlock/auth/api-keys.json');
    expect(slotlock?.volumes).toContain('./auth:/etc/slotlock/auth:ro');
    expect(slotlock?.environment?.SLOTLOCK_INSECURE_NO_AUTH).toBeUndefined();
  });

  it('ships an example key file that parses and admits only the documented development key', () => {
    const table = ApiKeyTable.parse(readFileSync(repoPath('deploy/auth/api-keys.json'), 'utf8'));
    expect(table.byKey('slotlock-dev-only-key-change-me')?.id).toBe('key:dev');
    expect(table.byKey('anything-else')).toBeUndefined();
  });

  it('k8s mounts the slotlock-api-keys Secret as a directory (so updates reach the pod)', () => {
    const deployment = parse(
      readFileSync(repoPath('deploy/k8s/base/slotlock-deployment.yaml'), 'utf8'),
    ) as {
      spec: {
        template: {
          spec: {
            containers: Container[];
            volumes: { name: string; secret?: { secretName: string } }[];
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const env = new Map(container?.env?.map(e => [e.name, e.value]));
    expect(env.get('AUTH_API_KEYS_FILE')).toBe('/etc/slotlock/auth/api-keys.json');
    expect(env.has('SLOTLOCK_INSECURE_NO_AUTH')).toBe(false);
    const mount = container?.volumeMounts?.find(m => m.mountPath === '/etc/slotlock/auth');
    expect(mount?.subPath).toBeUndefined();
    const volume = pod.volumes.find(v => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('slotlock-api-keys');
  });
});
