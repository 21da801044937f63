import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('applies defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      ETCD_PREFIX: 'slotlock/',
      TTL_MIN_S: 2,
      WAIT_MAX_MS: 30_000,
    });
    expect(c.ETCD_ENDPOINTS).toBeUndefined();
  });

  it('parses comma-separated etcd endpoints', () => {
    const c = loadConfig({ ETCD_ENDPOINTS: 'http://127.0.0.1:2379, http://127.0.0.2:2379' });
    expect(c.ETCD_ENDPOINTS).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ ETCD_ENDPOINTS: 'not a url' }, 'ETCD_ENDPOINTS'],
    [{ ETCD_ENDPOINTS: 'ftp://x:1' }, 'ETCD_ENDPOINTS'],
    [{ TTL_MIN_S: '1' }, 'TTL_MIN_S'],
    [{ TTL_MIN_S: '30', TTL_MAX_S: '10' }, 'TTL_MIN_S'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ETCD_PREFIX: 'no-slash' }, 'ETCD_PREFIX'],
    [{ ETCD_USERNAME: 'root' }, 'ETCD_PASSWORD'],
  ])('rejects %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`${name}:`));
  });

  it('names every invalid variable at once and the value it got', () => {
    try {
      loadConfig({ PORT: 'x', WAIT_MAX_MS: '-5' });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).toMatch(/PORT: .*\(got "x"\)/);
      expect(String(err)).toMatch(/WAIT_MAX_MS: .*\(got "-5"\)/);
    }
  });
});
