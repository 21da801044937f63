import type { Server, ServerOptions } from 'node:http';
import type { Config } from '../../config.js';

/**
 * Options for `http.createServer` / `https.createServer`: how often Node checks the header and
 * request timeouts of open connections (at most every second, so a slowloris client is cut off
 * within about a second of its deadline).
 */
export function serverOptions(c: Config): Pick<ServerOptions, 'connectionsCheckingInterval'> {
  return {
    connectionsCheckingInterval: Math.min(1000, c.HTTP_HEADERS_TIMEOUT_MS),
  };
}

/**
 * Bounds what one client can hold of a replica: the number of open connections, the time to send
 * the headers (`HTTP_HEADERS_TIMEOUT_MS`, slowloris) and the whole request with its body
 * (`HTTP_REQUEST_TIMEOUT_MS`), and idle keep-alive. These count only while the request is being
 * received: a long-poll or an SSE stream whose request has arrived is not cut by them.
 */
export function applyServerLimits(server: Server, c: Config): void {
  if (c.HTTP_MAX_CONNECTIONS > 0) server.maxConnections = c.HTTP_MAX_CONNECTIONS;
  server.headersTimeout = c.HTTP_HEADERS_TIMEOUT_MS;
  server.requestTimeout = Math.max(c.HTTP_REQUEST_TIMEOUT_MS, c.HTTP_HEADERS_TIMEOUT_MS);
  server.keepAliveTimeout = c.HTTP_KEEP_ALIVE_TIMEOUT_MS;
}
