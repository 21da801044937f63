import { isIP } from 'node:net';
import { authConfigured, ConfigError, type Config } from '../config.js';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The address to listen on, secure by default (like Redis's protected mode): HOST if set, else
 * every interface when authentication is configured and loopback when it is not. Binding a
 * non-loopback address without authentication needs SLOTLOCK_INSECURE_NO_AUTH=true; otherwise
 * this throws a {@link ConfigError} naming both variables (the process exits 1).
 */
export function listenHost(config: Config): string {
  const auth = authConfigured(config);
  const host = config.HOST ?? (auth ? '0.0.0.0' : '127.0.0.1');
  if (!auth && !isLoopback(host) && !config.SLOTLOCK_INSECURE_NO_AUTH) {
    throw new ConfigError(
      `protected mode: HOST=${host} is not a loopback address and no authentication is ` +
        'configured (AUTH_API_KEYS_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL, TLS_CLIENT_CA_FILE). ' +
        'Configure authentication, bind HOST=127.0.0.1, or set SLOTLOCK_INSECURE_NO_AUTH=true ' +
        'to let anyone who reaches the port hold every slot (see docs/security.md).',
    );
  }
  return host;
}
