import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createAuthenticator } from './auth/create-authenticator.js';
import type { Authenticator } from './auth/authenticator.js';
import { Cleanup } from './domain/cleanup.js';
import { Elections } from './domain/elections/elections.js';
import { FencedStore } from './domain/fencing/fenced-store.js';
import { FencedLedger } from './domain/fencing/fenced-ledger.js';
import { MarkerLeases } from './domain/marker-leases.js';
import { Quotas } from './http/limits/quotas.js';
import { fencedLimitsOf } from './config-limits.js';
import { Semaphore } from './domain/slots/semaphore.js';
import { Bundles } from './domain/bundles/bundles.js';
import { Sessions } from './domain/sessions/sessions.js';
import { SessionDeadlines } from './domain/sessions/session-deadlines.js';
import { SlotReader } from './domain/slots/slot-reader.js';
import { SlotWatch } from './domain/slots/slot-watch.js';
import { StaleReports } from './domain/fencing/stale-reports.js';
import type { EtcdClient } from './etcd/client.js';
import { KeyLayout, slotSpace } from './etcd/keys.js';
import { LeaseKeeper } from './etcd/lease-keeper.js';
import { LeasePool } from './etcd/lease-pool.js';
import { EtcdStore } from './etcd/store.js';
import type { EtcdFaults } from './etcd/faults.js';
import { limitsOf, type Limits } from './http/schemas.js';
import { Lifecycle } from './lifecycle.js';
import { initMetricSeries, watchCounters, type Metrics } from './metrics.js';

/** Everything the HTTP layer needs, wired once per process (or per test). */
export interface Services {
  config: Config;
  /** Who a request is (API keys, JWTs, client certificates), or nobody checks (auth off). */
  auth: Authenticator;
  limits: Limits;
  log: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  keys: KeyLayout;
  store: EtcdStore;
  leases: LeaseKeeper;
  watch: SlotWatch;
  cleanup: Cleanup;
  semaphore: Semaphore;
  /** Several slots taken together, all or none (built on the semaphore's queues). */
  bundles: Bundles;
  reader: SlotReader;
  sessions: Sessions;
  /** Leader elections (a second semaphore and watch, over the election key space). */
  elections: Elections;
  /** Fenced records in etcd, written only with a live, not-lower token. */
  fenced: FencedStore;
  /** Per-principal quotas of grants, candidacies, sessions (in etcd) and waiters (per replica). */
  quotas: Quotas;
  /** Stale-token reports from resources outside etcd. */
  staleReports: StaleReports;
  /** Starts the watches; resolves once they are anchored at a revision. */
  start(): Promise<void>;
  /** Stops watches and streams and waits (bounded) for cleanup; never revokes holders' leases. */
  close(): Promise<void>;
}

/** Wires the domain over an etcd client. The caller owns `client` and closes it after `close()`. */
export function createServices(
  config: Config,
  client: EtcdClient,
  log: Logger,
  metrics: Metrics,
  /** Test-only: faults injected into the etcd adapter (the chaos suite); main never passes any. */
  testing: { etcdFaults?: EtcdFaults } = {},
): Services {
  initMetricSeries(metrics);
  const keys = new KeyLayout(config.ETCD_PREFIX);
  const store = new EtcdStore(
    client,
    metrics,
    config.RETRY_AFTER_S,
    {
      maxBatch: config.ETCD_TXN_BATCH_MAX,
      maxInFlight: config.ETCD_TXN_IN_FLIGHT,
      maxOps: config.ETCD_MAX_TXN_OPS,
      deadlineMs: config.ETCD_CALL_TIMEOUT_MS,
    },
    testing.etcdFaults,
  );
  store.readRevisionsAt(config.ETCD_PREFIX);
  const leases = new LeaseKeeper(
    client,
    metrics,
    config.ETCD_CALL_TIMEOUT_MS,
    config.RETRY_AFTER_S,
  );
  const slots = slotSpace(keys);
  // No listener of the slot watch reads `prev`: etcd need not fetch it.
  const watch = new SlotWatch(store, slots, log, watchCounters(metrics, 'slots'), false);
  const cleanup = new Cleanup(log);
  const lifecycle = new Lifecycle(config.RETRY_AFTER_S);
  const sessionDeadlines = new SessionDeadlines(store);
  const markerLeases = new MarkerLeases(store, config.RELEASE_MARKER_RETENTION_S);
  const leasePool = new LeasePool(store, { size: config.LEASE_POOL_SIZE });
  const semaphore = new Semaphore({
    store,
    space: slots,
    markerLeases,
    sessionDeadlines,
    watch,
    leases,
    cleanup,
    metrics,
    log,
    retryAfterS: config.RETRY_AFTER_S,
    reconnectGraceMs: config.ETCD_CALL_TIMEOUT_MS,
    leasePool,
  });
  const elections = new Elections({
    store,
    keys,
    leases,
    cleanup,
    metrics,
    log,
    retryAfterS: config.RETRY_AFTER_S,
    reconnectGraceMs: config.ETCD_CALL_TIMEOUT_MS,
    electionsMax: config.ELECTIONS_MAX,
    markerLeases,
  });
  const auth = createAuthenticator(config, log);
  return {
    config,
    auth,
    limits: limitsOf(config),
    log,
    metrics,
    lifecycle,
    keys,
    store,
    leases,
    watch,
    cleanup,
    semaphore,
    bundles: new Bundles({ ...semaphore.context, keys, maxSlots: config.BUNDLE_SLOTS_MAX }),
    reader: new SlotReader(store, slots, metrics),
    sessions: new Sessions(store, keys, leases, sessionDeadlines),
    elections,
    fenced: new FencedStore({
      store,
      keys,
      space: slots,
      metrics,
      log,
      ledger: new FencedLedger(keys.prefix, fencedLimitsOf(config)),
    }),
    quotas: new Quotas(store, keys.prefix, config),
    staleReports: new StaleReports(store, metrics, log),
    start: async () => {
      await watch.start();
      await elections.start();
    },
    close: async () => {
      lifecycle.beginDrain();
      await watch.close();
      await elections.close();
      await leasePool.close();
      await cleanup.drain(config.ETCD_CALL_TIMEOUT_MS);
      leases.close();
      auth.close();
    },
  };
}
