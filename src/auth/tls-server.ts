import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { WatchedFile } from './watched-file.js';
import { serverOptions } from '../http/limits/server-limits.js';

/** The listener main.ts serves on: plain HTTP, or HTTPS whose files are reloaded on change. */
export interface Listener {
  readonly server: Server;
  readonly scheme: 'http' | 'https';
  /** Re-reads changed certificate files now (SIGHUP); they are also watched. */
  reload(): void;
  /** Stops watching the certificate files (the server is closed by its owner). */
  close(): void;
}

/**
 * TLS settings: TLS 1.2 minimum, Node's default cipher list and curves; with TLS_CLIENT_CA_FILE
 * the server asks every client for a certificate and, unless TLS_CLIENT_CERT_REQUIRED=false,
 * refuses the handshake of a client without one signed by that CA.
 */
function secureOptions(config: Config): ServerOptions {
  const read = (path: string) => readFileSync(path);
  return {
    cert: read(config.TLS_CERT_FILE ?? ''),
    key: read(config.TLS_KEY_FILE ?? ''),
    minVersion: 'TLSv1.2',
    ...(config.TLS_CLIENT_CA_FILE === undefined
      ? {}
      : {
          ca: read(config.TLS_CLIENT_CA_FILE),
          requestCert: true,
          rejectUnauthorized: config.TLS_CLIENT_CERT_REQUIRED,
        }),
  };
}

/**
 * Creates the server for `app`: HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set (certificate,
 * key and client CA reloaded with `setSecureContext` when a file changes; a bad new version is
 * logged and the old one kept), plain HTTP otherwise. Throws when a TLS file cannot be read.
 */
export function createListener(app: RequestListener, config: Config, log: Logger): Listener {
  if (config.TLS_CERT_FILE === undefined) {
    return {
      server: createHttpServer(serverOptions(config), app),
      scheme: 'http',
      reload: () => undefined,
      close: () => undefined,
    };
  }
  const server = createHttpsServer({ ...serverOptions(config), ...secureOptions(config) }, app);
  const apply = () => {
    server.setSecureContext(secureOptions(config));
  };
  const paths = [config.TLS_CERT_FILE, config.TLS_KEY_FILE, config.TLS_CLIENT_CA_FILE].filter(
    (p): p is string => p !== undefined,
  );
  let started = false;
  const files = paths.map(
    path =>
      new WatchedFile(
        path,
        () => {
          if (started) apply();
        },
        log,
      ),
  );
  started = true;
  return {
    server,
    scheme: 'https',
    reload: () => {
      for (const f of files) f.check();
    },
    close: () => {
      for (const f of files) f.close();
    },
  };
}
