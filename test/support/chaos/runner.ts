/**
 * Runs a suite of chaos scenarios on one 3-member etcd cluster and two slotlock replicas, and
 * writes each scenario's artifacts to `<runDir>/<scenario id>/`: history.jsonl (client and driver
 * requests), events.jsonl (etcd's history of the service prefix), faults.jsonl, meta.json.
 * Meant to run in its own process (inside a network namespace when the suite says so).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { connectEtcd } from '../../../src/etcd/client.js';
import {
  findEtcdBinary,
  freePort,
  startEtcdCluster,
  type EtcdCluster,
} from '../../../src/embedded-etcd/index.js';
import { electionSpace, KeyLayout, slotSpace } from '../../../src/etcd/keys.js';
import { readHistory } from '../history.js';
import { TcpProxy } from '../tcp-proxy.js';
import { PeerPartition } from '../peer-partition.js';
import type { WatchEvent } from '../../../src/etcd/watch.js';
import { clusterHealthy, injectFault, type FaultContext, type GrantEvent } from './faults.js';
import { writeEtcdWrapper } from './netns.js';
import { Child, onJsonLines, registerPid, Replica, startNode, until } from './processes.js';
import {
  readJsonLines,
  writeJsonLines,
  type EventRecord,
  type FaultRecord,
  type OpRecord,
  type RunLayout,
} from './records.js';
import { ReplicaClient } from './replica-client.js';
import type { ScenarioSpec, SuiteSpec } from './scenarios.js';
import type { ClientConfig, SlotSpec } from './workload.js';

/** What a scenario's meta.json says besides the histories. */
export interface ScenarioMeta {
  id: string;
  layout: RunLayout;
  fencedStore: boolean;
  isolation: 'nft' | 'peer-proxy';
  unsafeMode: string | null;
  workloadStart: number;
  workloadEnd: number;
  /** Contender keys of the scenario still in etcd after the drain deadline (should be 0). */
  leftoverKeys: number;
  /** Increase of each replica's `slotlock_etcd_watch_*` series over the scenario, e.g. `s1 slotlock_etcd_watch_resyncs_total{watch="slots"}`. */
  watchMetrics: Record<string, number>;
}

interface Suite {
  spec: SuiteSpec;
  cluster: EtcdCluster;
  etcd: Etcd3;
  prefix: string;
  replicas: Replica[];
  fencedStore: boolean;
  /** s1 reaches each member through one of these (watch faults drop or refuse its connections). */
  s1Proxies: TcpProxy[];
  /** Without a namespace, members reach each other through these proxies (isolation faults). */
  partition: PeerPartition | undefined;
}

const log = (msg: string): void => {
  process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};

export async function runSuite(spec: SuiteSpec): Promise<void> {
  // Members run under their own uids in a namespaced run: they must reach their data dirs.
  chmodSync(spec.runDir, 0o755);
  mkdirSync(join(spec.runDir, 'etcd'));
  chmodSync(join(spec.runDir, 'etcd'), 0o755);
  if (spec.netns) {
    const etcd = findEtcdBinary();
    if (etcd === undefined) throw new Error('etcd is not installed');
    process.env.ETCD_BIN = writeEtcdWrapper(spec.runDir, etcd);
  }
  const prefix = `chaos-${randomBytes(4).toString('hex')}/`;
  let cluster: EtcdCluster | undefined;
  let etcd: Etcd3 | undefined;
  const replicas: Replica[] = [];
  const s1Proxies: TcpProxy[] = [];
  const partition = spec.netns ? undefined : new PeerPartition();
  try {
    cluster = await startEtcdCluster({
      size: 3,
      baseDir: join(spec.runDir, 'etcd'),
      heartbeatMs: spec.heartbeatMs,
      electionMs: spec.electionMs,
      readyTimeoutMs: 60_000,
      advertisePeerUrl: partition?.hook,
    });
    await partition?.learnIds(cluster.members);
    log(`etcd cluster up: ${cluster.endpoints.join(' ')}`);
    registerMembers(spec.runDir, cluster);
    etcd = connectEtcd({ endpoints: cluster.endpoints, callTimeoutMs: 5000, retryAfterS: 1 });
    const env = {
      ETCD_ENDPOINTS: cluster.endpoints.join(','),
      ETCD_PREFIX: prefix,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      // One etcd call in flight per replica: concurrent transactions of the scenario's slots and
      // elections are group-committed as often as possible, so the faults hit shared calls too.
      ETCD_TXN_IN_FLIGHT: '1',
      SLOTLOCK_UNSAFE_TEST_MODE: spec.unsafeMode ?? '',
    };
    for (const m of cluster.members) {
      s1Proxies.push(await TcpProxy.start(Number(new URL(m.clientUrl).port)));
    }
    // s1 reaches etcd through proxies (transparent until a watch fault uses them), s2 directly.
    const s1Env = { ...env, ETCD_ENDPOINTS: s1Proxies.map(p => p.url).join(',') };
    replicas.push(new Replica('s1', await freePort(), spec.runDir, s1Env));
    replicas.push(new Replica('s2', await freePort(), spec.runDir, env));
    await Promise.all(replicas.map(r => r.start()));
    log(`replicas up${spec.unsafeMode === undefined ? '' : ` in UNSAFE mode ${spec.unsafeMode}`}`);
    const suite = {
      spec,
      cluster,
      etcd,
      prefix,
      replicas,
      fencedStore: await hasFencedStore(replicas),
      s1Proxies,
      partition,
    };
    for (const scenario of spec.scenarios) await runScenario(suite, scenario);
  } finally {
    await Promise.all(replicas.map(r => r.stop()));
    await Promise.all(s1Proxies.map(p => p.close()));
    await partition?.close();
    etcd?.close();
    await cluster?.stop({ timeoutMs: 2000 });
  }
}

/** Records the members' pids (restarts make new ones) so a parent can stop leftovers by pid. */
function registerMembers(runDir: string, cluster: EtcdCluster): void {
  for (const m of cluster.members) registerPid(runDir, m.pid);
}

/** The fenced store is another engineer's work in progress: use it only if the route answers. */
async function hasFencedStore(replicas: Replica[]): Promise<boolean> {
  const res = await fetch(`${replicas[0]?.url ?? ''}/v1/slots/probe/fenced/r`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  return res.status !== 404 && res.status !== 405;
}

function slotsOf(s: ScenarioSpec): SlotSpec[] {
  return [
    { name: `${s.id}-x1`, capacity: 1, fenced: true },
    { name: `${s.id}-x2`, capacity: 1, fenced: true },
    { name: `${s.id}-c3`, capacity: 3, fenced: true },
  ];
}

async function runScenario(suite: Suite, s: ScenarioSpec): Promise<void> {
  const { spec, cluster, etcd, prefix, replicas } = suite;
  const dir = join(spec.runDir, s.id);
  mkdirSync(dir, { recursive: true });
  await clusterHealthy(cluster);
  await Promise.all(replicas.map(r => (r.running ? r.ready(30_000) : r.start())));
  const startRevision = BigInt((await etcd.get('\0').exec()).header.revision);
  const kept = new KeptHistory(etcd, prefix, s.id, startRevision + 1n);
  const watchBefore = await watchMetrics(replicas);
  const slots = slotsOf(s);
  const elections = [`${s.id}-lead`];
  const layout: RunLayout = {
    prefix,
    capacities: {
      slots: Object.fromEntries(slots.map(x => [x.name, x.capacity])),
      elections: Object.fromEntries(elections.map(e => [e, 1])),
    },
  };
  const grants: GrantEvent[] = [];
  const onGrant = new Set<(g: GrantEvent, pid: number) => void>();
  const clients: { proc: string; child: Child; ready: boolean }[] = [];
  const history = (proc: string) => join(dir, `${proc}.jsonl`);
  log(`${s.id}: starting ${s.clients} clients`);
  const workloadStart = performance.timeOrigin + performance.now();
  try {
    for (let i = 1; i <= s.clients; i++) {
      const proc = `c${i}`;
      const config: ClientConfig = {
        proc,
        urls: replicas.map(r => r.url),
        prefix,
        slots,
        elections,
        durationMs: 10 * 60_000,
        ttlS: s.ttlS,
        waitMs: s.waitMs,
        electionShare: s.electionShare,
        fencedStore: suite.fencedStore,
        historyFile: history(proc),
        seed: (Number.parseInt(randomBytes(4).toString('hex'), 16) ^ i) >>> 0,
      };
      const child = startNode(
        spec.runDir,
        'test/support/chaos/client-main.ts',
        [JSON.stringify(config)],
        {},
        join(dir, `${proc}.log`),
        'pipe',
      );
      const entry = { proc, child, ready: false };
      clients.push(entry);
      onJsonLines(child, ev => {
        if (ev.event === 'ready') entry.ready = true;
        if (ev.event !== 'granted') return;
        grants.push(ev as unknown as GrantEvent);
        for (const listener of onGrant) listener(ev as unknown as GrantEvent, child.pid);
      });
    }
    await until('clients ready', () => clients.every(c => c.ready), 60_000);
    await until(
      `${s.warmupGrants} grants before the fault`,
      () => grants.length >= s.warmupGrants,
      60_000,
    );
    const ctx = faultContext(suite, s, clients, onGrant, history, layout, kept);
    log(`${s.id}: injecting ${s.fault}`);
    let faults: FaultRecord[];
    try {
      faults = await injectFault(ctx);
    } finally {
      registerMembers(spec.runDir, cluster);
    }
    writeJsonLines(join(dir, 'faults.jsonl'), faults);
    // The workload's own schedule: at least workloadMs in all, and a few seconds after the fault.
    const lastEnd = Math.max(workloadStart + s.workloadMs, ...faults.map(f => f.end + 4000));
    await new Promise(resolve =>
      setTimeout(resolve, Math.max(0, lastEnd - (performance.timeOrigin + performance.now()))),
    );
    log(`${s.id}: stopping clients`);
    await Promise.all(clients.map(c => c.child.stop('SIGTERM', s.waitMs + 15_000)));
  } finally {
    await Promise.all(clients.map(c => c.child.stop('SIGKILL', 1000)));
  }
  const workloadEnd = performance.timeOrigin + performance.now();
  await finalReads(suite, slots, history('runner'));
  const leftoverKeys = await drain(suite, s);
  const watchAfter = await watchMetrics(replicas);
  const tombstone = `${prefix}z/${s.id}`;
  await etcd.put(tombstone).value('end');
  const events = (await kept.all()).map((e): EventRecord => ({
    type: e.type,
    key: e.key,
    revision: e.revision,
    createRevision: e.kv.createRevision,
    version: e.kv.version,
    lease: e.kv.lease,
    value: e.kv.value,
  }));
  writeJsonLines(join(dir, 'events.jsonl'), events);
  const ops = readdirSync(dir)
    .filter(
      f =>
        f.endsWith('.jsonl') &&
        f !== 'events.jsonl' &&
        f !== 'faults.jsonl' &&
        f !== 'history.jsonl',
    )
    .flatMap(f => readJsonLines<OpRecord>(join(dir, f)));
  writeJsonLines(
    join(dir, 'history.jsonl'),
    ops.sort((a, b) => a.invoke - b.invoke),
  );
  const meta: ScenarioMeta = {
    id: s.id,
    layout,
    fencedStore: suite.fencedStore,
    isolation: spec.netns ? 'nft' : 'peer-proxy',
    unsafeMode: spec.unsafeMode ?? null,
    workloadStart,
    workloadEnd,
    leftoverKeys,
    watchMetrics: Object.fromEntries(
      Object.entries(watchAfter).map(([k, v]) => [k, v - (watchBefore[k] ?? 0)]),
    ),
  };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2));
  log(
    `${s.id}: ${ops.length} requests, ${events.length} etcd events, ${leftoverKeys} leftover keys`,
  );
}

function faultContext(
  suite: Suite,
  s: ScenarioSpec,
  clients: { proc: string; child: Child }[],
  onGrant: Set<(g: GrantEvent, pid: number) => void>,
  history: (proc: string) => string,
  layout: RunLayout,
  kept: KeptHistory,
): FaultContext {
  const https = new Map<string, ReplicaClient>();
  const keys = new KeyLayout(suite.prefix);
  return {
    spec: s,
    netns: suite.spec.netns,
    cluster: suite.cluster,
    replicas: suite.replicas,
    clients: clients.map(c => ({ proc: c.proc, pid: c.child.pid, running: c.child.running })),
    etcd: suite.etcd,
    stopOnGrant: (pred, timeoutMs) =>
      new Promise<GrantEvent>((resolve, reject) => {
        const timer = setTimeout(() => {
          onGrant.delete(listener);
          reject(new Error(`no matching grant within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (g: GrantEvent, pid: number) => {
          if (!pred(g)) return;
          // At once, in the same tick as the announcement: the holder has not written yet.
          process.kill(pid, 'SIGSTOP');
          onGrant.delete(listener);
          clearTimeout(timer);
          resolve(g);
        };
        onGrant.add(listener);
      }),
    http: proc => {
      let client = https.get(proc);
      if (client === undefined) {
        client = new ReplicaClient(
          suite.replicas.map(r => r.url),
          proc,
          history(proc),
        );
        https.set(proc, client);
      }
      return client;
    },
    historyFile: history,
    addSlot: (name, capacity) => {
      layout.capacities.slots[name] = capacity;
    },
    slotPrefix: name => slotSpace(keys).contenders(name),
    s1Proxies: suite.s1Proxies,
    partition: suite.partition,
    compact: () => kept.compact(),
  };
}

/**
 * The scenario's etcd history, kept across compactions: the checkers need every event since the
 * scenario started, and a compaction erases what it passes. Before each compaction the history
 * up to a marker key is read and kept; the compaction then goes exactly to the marker.
 */
class KeptHistory {
  private readonly events: WatchEvent[] = [];
  private marks = 0;

  constructor(
    private readonly etcd: Etcd3,
    private readonly prefix: string,
    private readonly id: string,
    private next: bigint,
  ) {}

  /** Keeps the history so far, compacts etcd (physically) up to now; returns the revision. */
  async compact(): Promise<string> {
    const mark = await this.etcd
      .put(`${this.prefix}z/${this.id}-mark-${++this.marks}`)
      .value('compaction')
      .exec();
    const at = BigInt(mark.header.revision);
    const read = await readHistory(this.etcd, this.prefix, String(this.next));
    this.events.push(...read.filter(e => BigInt(e.revision) <= at));
    this.next = at + 1n;
    await this.etcd.kv.compact({ revision: at.toString(), physical: true });
    return at.toString();
  }

  /** Every event since the scenario started (kept, then read from after the last compaction). */
  async all(): Promise<WatchEvent[]> {
    return [...this.events, ...(await readHistory(this.etcd, this.prefix, String(this.next)))];
  }
}

/** Each replica's `slotlock_etcd_watch_*` series, keyed `<replica> <series>` (unreachable: none). */
async function watchMetrics(replicas: Replica[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of replicas) {
    const text = await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(5000) })
      .then(res => res.text())
      .catch(() => '');
    for (const line of text.split('\n')) {
      const m = /^(slotlock_etcd_watch_\w+\{[^}]*\}) (\S+)$/.exec(line);
      if (m?.[1] !== undefined) out[`${r.name} ${m[1]}`] = Number(m[2]);
    }
  }
  return out;
}

/** Reads each fenced record once more at the end (the final read the store checker compares). */
async function finalReads(suite: Suite, slots: SlotSpec[], file: string): Promise<void> {
  if (!suite.fencedStore) return;
  const http = new ReplicaClient(
    suite.replicas.map(r => r.url),
    'final',
    file,
  );
  for (const slot of slots.filter(x => x.fenced)) {
    await http.send({
      kind: 'fenced-read',
      space: 'slot',
      name: slot.name,
      capacity: slot.capacity,
      method: 'GET',
      path: `/v1/slots/${slot.name}/fenced/r`,
      timeoutMs: 10_000,
      fields: { record: 'r' },
      annotate: b => ({ value: b.value, token: b.token, revision: b.revision }),
    });
  }
}

/** Waits (bounded) until no contender key of the scenario is left; returns how many remain. */
async function drain(suite: Suite, s: ScenarioSpec): Promise<number> {
  const keys = new KeyLayout(suite.prefix);
  const roots = [slotSpace(keys).root, electionSpace(keys).root].map(root => `${root}${s.id}-`);
  const count = async () => {
    let n = 0;
    for (const root of roots) {
      const res = await suite.etcd.getAll().prefix(root).keys();
      n += res.filter(k => k.includes('#h/')).length;
    }
    return n;
  };
  await until(
    'contender keys drained',
    async () => (await count()) === 0,
    s.ttlS * 2000 + 15_000,
  ).catch(() => undefined);
  return count();
}
