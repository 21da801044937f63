import { readFileSync } from 'node:fs';
import { createApp } from './app.js';
import { buildInfo, replicaId } from './build-info.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { connectEtcd } from './etcd/client.js';
import { startEmbeddedEtcd, type EmbeddedEtcd } from './embedded-etcd/embedded-default.js';
import { describeListenError } from './listen-error.js';
import { createLogger } from './logger.js';
import { installLastResort } from './last-resort.js';
import { createMetrics } from './metrics.js';
import { applyServerLimits } from './http/limits/server-limits.js';
import { createServices, type Services } from './services.js';
import { listenHost } from './auth/protected-mode.js';
import { createListener, type Listener } from './auth/tls-server.js';

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

async function main(): Promise<void> {
  let config: Config;
  let host: string;
  try {
    config = loadConfig();
    host = listenHost(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`slotlock: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL, version, {
    replica: replicaId(config.REPLICA_ID),
    commit: buildInfo().commit,
  });
  const lastResort = installLastResort(log, config.SHUTDOWN_GRACE_MS);

  let embedded: EmbeddedEtcd | undefined;
  let endpoints = config.ETCD_ENDPOINTS;
  if (endpoints === undefined) {
    try {
      embedded = await startEmbeddedEtcd({
        dataDir: config.ETCD_DATA_DIR,
        log: msg => {
          log.info(msg);
        },
      });
    } catch (err) {
      log.fatal({ err }, 'could not start the embedded etcd');
      process.stderr.write(`slotlock: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
    endpoints = [embedded.endpoint];
  }

  const client = connectEtcd({
    endpoints,
    callTimeoutMs: config.ETCD_CALL_TIMEOUT_MS,
    retryAfterS: config.RETRY_AFTER_S,
    username: config.ETCD_USERNAME,
    password: config.ETCD_PASSWORD,
    caFile: config.ETCD_CA_FILE,
    certFile: config.ETCD_CERT_FILE,
    keyFile: config.ETCD_KEY_FILE,
  });
  const metrics = createMetrics();
  let services: Services;
  let listener: Listener;
  try {
    services = createServices(config, client, log, metrics);
    listener = createListener(createApp(services), config, log);
  } catch (err) {
    // A credential, JWKS or certificate file that cannot be read or parsed.
    log.fatal({ err }, 'cannot start');
    process.stderr.write(`slotlock: ${err instanceof Error ? err.message : String(err)}\n`);
    client.close();
    if (embedded !== undefined) await embedded.stop();
    process.exit(1);
  }
  const server = listener.server;
  applyServerLimits(server, config);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, host, resolve);
    });
  } catch (err) {
    // One line naming PORT/HOST, not a stack; nothing was served, so stop what was started.
    log.fatal({ err }, 'cannot listen');
    process.stderr.write(`slotlock: ${describeListenError(err, config.PORT, host)}\n`);
    client.close();
    if (embedded !== undefined) await embedded.stop();
    process.exit(1);
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
  void anchorWatches(() => services.start(), log);

  let stopping = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining: readiness is now 503; long-polls end with 503');
    services.lifecycle.beginDrain();
    const closed = new Promise<void>(resolve => {
      server.close(() => {
        resolve();
      });
    });
    // Keep-alive sockets go idle as their last responses finish: close them as they do.
    const idle = setInterval(() => {
      server.closeIdleConnections();
    }, 50);
    server.closeIdleConnections();
    const deadline = setTimeout(() => {
      server.closeAllConnections();
    }, config.SHUTDOWN_GRACE_MS);
    await closed;
    clearTimeout(deadline);
    clearInterval(idle);
    await services.close();
    listener.close();
    client.close();
    if (embedded !== undefined) await embedded.stop();
    log.info('stopped');
    process.exit(exitCode);
  };
  lastResort.drainWith(reason => shutdown(reason, 1));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: re-reading changed credential and certificate files');
    services.auth.reload();
    listener.reload();
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown(signal));
  }
  // Announce only now: a supervisor may send SIGTERM as soon as it reads this line, and a signal
  // that arrives before its handler exists kills the process (no drain, the embedded etcd left).
  log.info(
    {
      host,
      api: `${listener.scheme}://${shown}:${port}/v1`,
      metrics: `${listener.scheme}://${shown}:${port}/metrics`,
      etcd: endpoints,
      ...(embedded === undefined
        ? {}
        : { etcdPid: embedded.member.pid, etcdDataDir: embedded.dataDir }),
    },
    `slotlock listening on ${listener.scheme}://${shown}:${port} (API /v1, metrics /metrics, docs /docs); etcd at ${endpoints.join(',')}` +
      (embedded === undefined ? '' : ` (embedded, data in ${embedded.dataDir})`),
  );
}

/** Anchors the slot watch, retrying while etcd is unreachable (readiness stays 503 meanwhile). */
async function anchorWatches(
  start: () => Promise<void>,
  log: { warn: (o: object, m: string) => void },
) {
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await start();
      return;
    } catch (err) {
      // Say why: a refused credential or a role without ETCD_PREFIX is not an outage.
      const why = err instanceof Error ? err.message : String(err);
      log.warn({ err }, `cannot anchor the watches on etcd yet (${why}); retrying`);
      await new Promise(resolve => setTimeout(resolve, delay));
    }
  }
}

await main();
