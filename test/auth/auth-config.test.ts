/** Authentication settings are validated at start (issue 14). */
import { describe, expect, it } from 'vitest';
import { authConfigured, ConfigError, loadConfig } from '../../src/config.js';
import { isLoopback, listenHost } from '../../src/auth/protected-mode.js';

describe('authentication settings', () => {
  it('rejects half a TLS pair, a client CA without HTTPS and a JWKS without issuer and audience', () => {
    expect(() => loadConfig({ TLS_CERT_FILE: '/c.pem' })).toThrow(/TLS_KEY_FILE/);
    expect(() => loadConfig({ TLS_CLIENT_CA_FILE: '/ca.pem' })).toThrow(/TLS_CLIENT_CA_FILE/);
    expect(() => loadConfig({ AUTH_JWKS_FILE: '/j.json' })).toThrow(/AUTH_JWT_AUDIENCE/);
    expect(() =>
      loadConfig({
        AUTH_JWKS_FILE: '/j.json',
        AUTH_JWKS_URL: 'https://idp/jwks',
        AUTH_JWT_ISSUER: 'i',
        AUTH_JWT_AUDIENCE: 'a',
      }),
    ).toThrow(/not both/);
    expect(() => loadConfig({ AUTH_PUBLIC_READS: 'yes' })).toThrow(/"true" or "false"/);
  });

  it('turns authentication on with any credential kind, and not with HTTPS alone', () => {
    expect(authConfigured(loadConfig({}))).toBe(false);
    expect(authConfigured(loadConfig({ TLS_CERT_FILE: '/c', TLS_KEY_FILE: '/k' }))).toBe(false);
    expect(authConfigured(loadConfig({ AUTH_API_KEYS_FILE: '/keys.json' }))).toBe(true);
    const ca = { TLS_CERT_FILE: '/c', TLS_KEY_FILE: '/k', TLS_CLIENT_CA_FILE: '/ca' };
    expect(authConfigured(loadConfig(ca))).toBe(true);
  });

  it('picks the listen address: loopback without auth, every interface with it', () => {
    expect(listenHost(loadConfig({}))).toBe('127.0.0.1');
    expect(listenHost(loadConfig({ AUTH_API_KEYS_FILE: '/k' }))).toBe('0.0.0.0');
    expect(listenHost(loadConfig({ HOST: '::1' }))).toBe('::1');
    expect(() => listenHost(loadConfig({ HOST: '10.0.0.5' }))).toThrow(ConfigError);
    expect(listenHost(loadConfig({ HOST: '10.0.0.5', SLOTLOCK_INSECURE_NO_AUTH: 'true' }))).toBe(
      '10.0.0.5',
    );
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      expect(isLoopback(h), h).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1']) {
      expect(isLoopback(h), h).toBe(false);
    }
  });
});
