/**
 * The one place that starts local etcd processes: the service's embedded zero-config etcd and every
 * test that needs a real member or a 3-member cluster on loopback. Everything binds to one host
 * (127.0.0.1 by default) on ports picked at run time, so runs never clash with another etcd.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The command an operator runs to install etcd on Debian/Ubuntu. */
export const ETCD_INSTALL_COMMAND = 'sudo apt-get install -y etcd-server';

const TAIL_BYTES = 4096;
const PROBE_TIMEOUT_MS = 1000;
const POLL_INTERVAL_MS = 50;

// Safety net: every pid we spawned and have not yet seen exit is SIGKILLed when this process exits,
// so no etcd outlives a crashed test worker or service.
const livePids = new Set<number>();
let exitHookInstalled = false;

function trackPid(pid: number): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const tracked of livePids) {
        try {
          process.kill(tracked, 'SIGKILL');
        } catch {
          // Already gone: nothing to clean up.
        }
      }
    });
  }
  livePids.add(pid);
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function lookPath(command: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(dir => dir !== '');
  return dirs.map(dir => join(dir, command)).find(isExecutableFile);
}

/** Path of the etcd binary: `ETCD_BIN` if executable, else `/usr/bin/etcd`, else `etcd` on PATH. */
export function findEtcdBinary(): string | undefined {
  const fromEnv = process.env.ETCD_BIN;
  if (fromEnv !== undefined && fromEnv !== '' && isExecutableFile(fromEnv)) return fromEnv;
  if (isExecutableFile('/usr/bin/etcd')) return '/usr/bin/etcd';
  return lookPath('etcd');
}

function aptGet(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFile('apt-get', args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`apt-get ${args.join(' ')} failed: ${stderr.slice(-TAIL_BYTES)}`));
    });
  });
}

/**
 * Returns the etcd binary, installing Debian's `etcd-server` with apt-get when it is missing and this
 * process runs as root. Otherwise it throws an Error naming the exact install command.
 */
export async function ensureEtcdInstalled(
  log: (msg: string) => void = () => undefined,
): Promise<string> {
  const found = findEtcdBinary();
  if (found !== undefined) return found;
  const fromEnv = process.env.ETCD_BIN;
  if (fromEnv !== undefined && fromEnv !== '') {
    throw new Error(`ETCD_BIN=${fromEnv} is not an executable file`);
  }
  if (process.getuid?.() !== 0 || lookPath('apt-get') === undefined) {
    throw new Error(`etcd is not installed; install it with: ${ETCD_INSTALL_COMMAND}`);
  }
  log('etcd not found; installing etcd-server with apt-get');
  try {
    await aptGet(['install', '-y', 'etcd-server']);
  } catch {
    log('apt-get install failed; running apt-get update and retrying');
    await aptGet(['update']);
    await aptGet(['install', '-y', 'etcd-server']);
  }
  const installed = findEtcdBinary();
  if (installed === undefined) {
    throw new Error('etcd-server was installed but no etcd binary found');
  }
  log(`etcd installed at ${installed}`);
  return installed;
}

async function listenOnFreePorts(count: number, host: string): Promise<number[]> {
  const servers: Server[] = [];
  try {
    // All listeners stay open until every port is read, so the ports are distinct.
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
      });
    }
    return servers.map(server => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map(s => new Promise(resolve => s.close(resolve))));
  }
}

/** A TCP port that was free on `host` a moment ago (listen on port 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await listenOnFreePorts(1, host);
  if (port === undefined) throw new Error('no free port found');
  return port;
}

/** Options for {@link startEtcdMember}. Ports default to free ones; host defaults to 127.0.0.1. */
export interface EtcdMemberOptions {
  name: string;
  dataDir: string;
  clientPort?: number | undefined;
  peerPort?: number | undefined;
  host?: string | undefined;
  /** `name=peerUrl,...`; defaults to this member alone. */
  initialCluster?: string | undefined;
  initialClusterState?: 'new' | 'existing' | undefined;
  clusterToken?: string | undefined;
  heartbeatMs?: number | undefined;
  electionMs?: number | undefined;
  /** etcd's stdout and stderr are appended here; without it they are discarded. */
  logFile?: string | undefined;
  /** Aborting before the member is ready kills it and rejects. */
  signal?: AbortSignal | undefined;
  /** Default 15 s. */
  readyTimeoutMs?: number | undefined;
  /**
   * `healthy`: `/health` says true (a lone member). `listening`: the client port accepts TCP (a
   * cluster member, whose `/health` stays false until quorum). Default: by initial cluster size.
   */
  waitFor?: 'healthy' | 'listening' | undefined;
}

/** A running etcd process. `exited` resolves with the exit code, or null when ended by a signal. */
export interface EtcdMember {
  readonly name: string;
  readonly pid: number;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `timeoutMs` (default 5 s); resolves once the process is gone. */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  /** SIGKILL, resolving once the process is gone. */
  kill(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  pause(): void;
  /** SIGCONT after {@link EtcdMember.pause}. */
  resume(): void;
  /** Stops this process if needed and starts a new one on the same name, data dir and ports. */
  restart(opts?: { signal?: AbortSignal; readyTimeoutMs?: number }): Promise<EtcdMember>;
}

class OutputTail {
  private text = '';
  constructor(private readonly logFile: string | undefined) {}

  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-TAIL_BYTES);
  }

  async read(): Promise<string> {
    if (this.logFile === undefined) return this.text;
    try {
      const file = await open(this.logFile, 'r');
      try {
        const { size } = await file.stat();
        const length = Math.min(size, TAIL_BYTES);
        const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
        return buffer.toString('utf8');
      } finally {
        await file.close();
      }
    } catch {
      return '';
    }
  }
}

class RunningMember implements EtcdMember {
  readonly exited: Promise<number | null>;
  /** Aborted when the process exits, so readiness probes stop at once. */
  readonly exitSignal: AbortSignal;
  /** Set by a cluster so that `restart()` replaces this member in its list. */
  onReplaced: ((next: RunningMember) => void) | undefined;
  private running = true;
  private stopping: Promise<void> | undefined;

  constructor(
    child: ChildProcess,
    readonly pid: number,
    readonly options: EtcdMemberOptions & { clientPort: number; peerPort: number; host: string },
    readonly tail: OutputTail,
  ) {
    const exitAbort = new AbortController();
    this.exitSignal = exitAbort.signal;
    trackPid(this.pid);
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.running = false;
        livePids.delete(this.pid);
        const how = code === null ? `on ${String(signal)}` : `with code ${code}`;
        exitAbort.abort(new Error(`etcd ${this.name} exited ${how}`));
        resolve(code);
      });
    });
  }

  get name(): string {
    return this.options.name;
  }
  get dataDir(): string {
    return this.options.dataDir;
  }
  get clientUrl(): string {
    return `http://${this.options.host}:${this.options.clientPort}`;
  }
  get peerUrl(): string {
    return `http://${this.options.host}:${this.options.peerPort}`;
  }
  stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.terminate(opts.timeoutMs ?? 5000);
    return this.stopping;
  }

  async kill(): Promise<void> {
    this.signalProcess('SIGKILL');
    await this.exited;
  }

  pause(): void {
    if (!this.running) throw new Error(`etcd ${this.name} is not running`);
    this.signalProcess('SIGSTOP');
  }

  resume(): void {
    if (!this.running) throw new Error(`etcd ${this.name} is not running`);
    this.signalProcess('SIGCONT');
  }

  async restart(opts: { signal?: AbortSignal; readyTimeoutMs?: number } = {}): Promise<EtcdMember> {
    await this.stop();
    const inCluster = (this.options.initialCluster ?? '').includes(',');
    const next = await launch({
      ...this.options,
      initialClusterState: inCluster ? 'existing' : this.options.initialClusterState,
      signal: opts.signal,
      readyTimeoutMs: opts.readyTimeoutMs ?? this.options.readyTimeoutMs,
    });
    next.onReplaced = this.onReplaced;
    this.onReplaced?.(next);
    return next;
  }

  private async terminate(timeoutMs: number): Promise<void> {
    this.signalProcess('SIGTERM');
    // A paused process only acts on SIGTERM once continued.
    this.signalProcess('SIGCONT');
    const timer = new AbortController();
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      sleep(timeoutMs, true, { ref: false, signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (timedOut) await this.kill();
  }

  private signalProcess(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // ESRCH: it exited between the check and the signal; `exited` settles it.
    }
  }
}

/**
 * Polls `probe` until it returns true. Rejects with `signal.reason` once `signal` aborts (deadline,
 * caller's abort, or the process exiting); each probe gets a signal that also bounds its own time.
 */
async function pollUntil(
  probe: (signal: AbortSignal) => Promise<boolean>,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const probeSignal = AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
    if (await probe(probeSignal).catch(() => false)) return;
    signal.throwIfAborted();
    await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
  }
}

async function isHealthy(clientUrl: string, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(`${clientUrl}/health`, { signal });
  if (!res.ok) return false;
  const body = (await res.json()) as { health?: unknown };
  return body.health === 'true';
}

function acceptsTcp(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect({ host, port, signal });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function etcdArgs(o: RunningMember['options'], clientUrl: string, peerUrl: string): string[] {
  const args = [
    `--name=${o.name}`,
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${o.initialCluster ?? `${o.name}=${peerUrl}`}`,
    `--initial-cluster-state=${o.initialClusterState ?? 'new'}`,
    `--initial-cluster-token=${o.clusterToken ?? `slotlock-${o.name}`}`,
    // Pre-vote keeps a member that was cut off from bumping the term (and deposing the leader) on heal.
    '--pre-vote=true',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
  if (o.heartbeatMs !== undefined) args.push(`--heartbeat-interval=${o.heartbeatMs}`);
  if (o.electionMs !== undefined) args.push(`--election-timeout=${o.electionMs}`);
  return args;
}

function describeFailure(reason: unknown, name: string, timeoutMs: number): string {
  if (reason instanceof DOMException && reason.name === 'TimeoutError') {
    return `etcd ${name} was not ready within ${timeoutMs} ms`;
  }
  return reason instanceof Error ? reason.message : String(reason);
}

async function spawnEtcd(options: RunningMember['options']): Promise<RunningMember> {
  const bin = findEtcdBinary();
  if (bin === undefined) {
    throw new Error(`etcd is not installed; install it with: ${ETCD_INSTALL_COMMAND}`);
  }
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (options.logFile !== undefined) await mkdir(dirname(options.logFile), { recursive: true });
  const log = options.logFile === undefined ? undefined : await open(options.logFile, 'a');
  const { host, clientPort, peerPort } = options;
  const args = etcdArgs(options, `http://${host}:${clientPort}`, `http://${host}:${peerPort}`);
  const tail = new OutputTail(options.logFile);
  // Listeners are attached before any await so neither a spawn error nor an early exit is missed.
  const child = spawn(bin, args, {
    stdio: log === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', log.fd, log.fd],
    detached: false,
    // etcd reads ETCD_* variables as flags (and refuses ones that a flag shadows); slotlock's
    // own settings share that prefix, so the child gets an environment without them (except the
    // one etcd needs on arm64 and other non-amd64 platforms).
    env: Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('ETCD_') || name === 'ETCD_UNSUPPORTED_ARCH',
      ),
    ),
  });
  const spawnError = new Promise<unknown>(resolve => child.once('error', resolve));
  child.stdout?.on('data', (chunk: Buffer) => {
    tail.add(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    tail.add(chunk);
  });
  const member =
    child.pid === undefined ? undefined : new RunningMember(child, child.pid, options, tail);
  await log?.close();
  if (member === undefined) {
    const error = await spawnError;
    throw new Error(
      `cannot start ${bin}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return member;
}

async function resolvePorts(opts: EtcdMemberOptions, host: string): Promise<[number, number]> {
  const { clientPort, peerPort } = opts;
  if (clientPort !== undefined && peerPort !== undefined) return [clientPort, peerPort];
  const free = await listenOnFreePorts(3, host);
  const [a = 0, b = 0] = free.filter(p => p !== clientPort && p !== peerPort);
  return [clientPort ?? a, peerPort ?? b];
}

async function launch(opts: EtcdMemberOptions): Promise<RunningMember> {
  const host = opts.host ?? '127.0.0.1';
  const [clientPort, peerPort] = await resolvePorts(opts, host);
  const member = await spawnEtcd({ ...opts, host, clientPort, peerPort });
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  const lone = !(opts.initialCluster ?? '').includes(',');
  const waitFor = opts.waitFor ?? (lone ? 'healthy' : 'listening');
  const signals = [member.exitSignal, AbortSignal.timeout(timeoutMs)];
  if (opts.signal !== undefined) signals.push(opts.signal);
  try {
    await pollUntil(
      probe =>
        waitFor === 'healthy'
          ? isHealthy(member.clientUrl, probe)
          : acceptsTcp(host, member.options.clientPort, probe),
      AbortSignal.any(signals),
    );
    return member;
  } catch (reason) {
    await member.kill();
    const output = await member.tail.read();
    const message = describeFailure(reason, opts.name, timeoutMs);
    throw new Error(`${message}; last etcd output:\n${output}`, { cause: reason });
  }
}

/**
 * Starts one etcd member bound only to `host` and resolves once it is ready (see `waitFor`). On an
 * early exit, the timeout or an abort it kills the process and rejects with the tail of etcd's output.
 */
export function startEtcdMember(opts: EtcdMemberOptions): Promise<EtcdMember> {
  return launch(opts);
}

/** Options for {@link startEtcdCluster}; members live in `baseDir/<name>`. */
export interface EtcdClusterOptions {
  size: number;
  baseDir: string;
  heartbeatMs?: number | undefined;
  electionMs?: number | undefined;
  /** Aborting before the cluster is ready stops every member and rejects. */
  signal?: AbortSignal | undefined;
  /** Default 30 s. */
  readyTimeoutMs?: number | undefined;
}

/** A local etcd cluster; `members` follows restarts, `endpoints` are the client URLs. */
export interface EtcdCluster {
  readonly members: EtcdMember[];
  readonly endpoints: string[];
  /** The member that says it leads, polling (default up to 10 s) while an election runs. */
  leader(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<EtcdMember>;
  /**
   * Stops every member (followers first) with a SIGTERM grace of `timeoutMs` (default 1 s) before
   * SIGKILL; resolves once all processes are gone.
   */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

interface MaintenanceStatus {
  header?: { member_id?: string; raft_term?: string };
  leader?: string;
}

async function claimsLeadership(member: EtcdMember, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(`${member.clientUrl}/v3/maintenance/status`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
    signal,
  });
  if (!res.ok) return false;
  const status = (await res.json()) as MaintenanceStatus;
  return status.leader !== undefined && status.leader === status.header?.member_id;
}

async function findLeader(members: EtcdMember[], signal: AbortSignal): Promise<EtcdMember> {
  let found: EtcdMember | undefined;
  await pollUntil(async probe => {
    const claim = async (member: EtcdMember): Promise<EtcdMember> => {
      if (await claimsLeadership(member, probe)) return member;
      throw new Error(`${member.name} does not lead`);
    };
    // The first member that says it leads wins; a paused member only costs its probe timeout.
    found = await Promise.any(members.map(claim)).catch(() => undefined);
    return found !== undefined;
  }, signal);
  if (found === undefined) throw new Error('no etcd leader found');
  return found;
}

/**
 * Stops followers, then the leader, each with a short SIGTERM grace. A leader told to stop tries to
 * hand leadership to a peer it still believes alive; with its peers going down too that attempt only
 * ends at etcd's request timeout (about 5 s), so the grace, not the transfer, bounds the teardown.
 * etcd syncs its WAL before acknowledging a write, so the SIGKILL after the grace loses nothing.
 */
async function stopFollowersFirst(members: EtcdMember[], timeoutMs: number): Promise<void> {
  const leads = await Promise.all(
    members.map(m => claimsLeadership(m, AbortSignal.timeout(500)).catch(() => false)),
  );
  const stop = (m: EtcdMember): Promise<void> => m.stop({ timeoutMs });
  await Promise.all(members.filter((_, i) => leads[i] !== true).map(stop));
  await Promise.all(members.filter((_, i) => leads[i] === true).map(stop));
}

/**
 * Starts `size` members in parallel with a shared `--initial-cluster` on fresh loopback ports and
 * resolves once every member's `/health` says true. On failure it stops all members and rejects.
 */
export async function startEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdCluster> {
  const host = '127.0.0.1';
  const ports = await listenOnFreePorts(opts.size * 2, host);
  const specs = Array.from({ length: opts.size }, (_, i) => ({
    name: `member-${i}`,
    clientPort: ports[2 * i] ?? 0,
    peerPort: ports[2 * i + 1] ?? 0,
  }));
  const initialCluster = specs.map(s => `${s.name}=http://${host}:${s.peerPort}`).join(',');
  const clusterToken = `slotlock-${randomBytes(6).toString('hex')}`;
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const startSignal =
    opts.signal === undefined ? deadline : AbortSignal.any([opts.signal, deadline]);
  const started = await Promise.allSettled(
    specs.map(spec =>
      launch({
        ...spec,
        host,
        dataDir: join(opts.baseDir, spec.name),
        logFile: join(opts.baseDir, `${spec.name}.log`),
        initialCluster,
        clusterToken,
        heartbeatMs: opts.heartbeatMs,
        electionMs: opts.electionMs,
        signal: startSignal,
        readyTimeoutMs: timeoutMs,
        waitFor: 'listening',
      }),
    ),
  );
  const members = started.flatMap(r => (r.status === 'fulfilled' ? [r.value] : []));
  const stopAll = ({ timeoutMs: grace = 1000 }: { timeoutMs?: number } = {}): Promise<void> =>
    stopFollowersFirst(members, grace);
  try {
    const failed = started.find(r => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const exits = members.map(m => m.exitSignal);
    await pollUntil(
      async probe => {
        const health = await Promise.all(
          members.map(m => isHealthy(m.clientUrl, probe).catch(() => false)),
        );
        return health.every(Boolean);
      },
      AbortSignal.any([startSignal, ...exits]),
    );
  } catch (reason) {
    await stopAll();
    const tails = await Promise.all(members.map(async m => `${m.name}: ${await m.tail.read()}`));
    const message = describeFailure(reason, `cluster of ${opts.size}`, timeoutMs);
    throw new Error(`${message}; last etcd output:\n${tails.join('\n')}`, { cause: reason });
  }
  members.forEach((member, i) => {
    member.onReplaced = next => {
      members[i] = next;
    };
  });
  return {
    members,
    endpoints: members.map(m => m.clientUrl),
    leader: ({ signal, timeoutMs: leaderTimeoutMs = 10_000 } = {}) => {
      const deadlineSignal = AbortSignal.timeout(leaderTimeoutMs);
      const waitSignal =
        signal === undefined ? deadlineSignal : AbortSignal.any([signal, deadlineSignal]);
      return findLeader(members, waitSignal);
    },
    stop: stopAll,
  };
}
