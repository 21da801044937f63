/**
 * One local etcd process on loopback: start, wait until ready, stop by pid (with a process-exit safety
 * net so no etcd outlives the process that started it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findEtcdBinary, ETCD_INSTALL_COMMAND } from './etcd-binary.js';
import { listenOnFreePorts } from './free-port.js';
import { stopProcess } from './process-state.js';

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

/** Options for {@link startEtcdMember}. Ports default to free ones; host defaults to 127.0.0.1. */
export interface EtcdMemberOptions {
  name: string;
  dataDir: string;
  clientPort?: number | undefined;
  peerPort?: number | undefined;
  host?: string | undefined;
  /**
   * The peer URL the other members dial to reach this one (`--initial-advertise-peer-urls`);
   * defaults to the listen URL. A fault test puts a proxy there to cut peer traffic.
   */
  advertisePeerUrl?: string | undefined;
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
  /** Further etcd flags, e.g. `--quota-backend-bytes=...` or `--max-txn-ops=...` (tests, chaos). */
  extraArgs?: readonly string[] | undefined;
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
  /**
   * SIGSTOP: the process keeps its sockets but answers nothing. Resolves once the kernel reports
   * it stopped (`T` in `/proc/<pid>/stat`): the signal is delivered asynchronously, so without the
   * wait a request sent right after could still be served.
   */
  pause(): Promise<void>;
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

  async pause(): Promise<void> {
    if (!this.running) throw new Error(`etcd ${this.name} is not running`);
    await stopProcess(this.pid);
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
/** Shared with etcd-cluster.ts. */
export async function pollUntil(
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

/** Shared with etcd-cluster.ts. */
export async function isHealthy(clientUrl: string, signal: AbortSignal): Promise<boolean> {
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
    `--initial-advertise-peer-urls=${o.advertisePeerUrl ?? peerUrl}`,
    `--initial-cluster=${o.initialCluster ?? `${o.name}=${o.advertisePeerUrl ?? peerUrl}`}`,
    `--initial-cluster-state=${o.initialClusterState ?? 'new'}`,
    `--initial-cluster-token=${o.clusterToken ?? `slotlock-${o.name}`}`,
    // Pre-vote keeps a member that was cut off from bumping the term (and deposing the leader) on heal.
    '--pre-vote=true',
    '--logger=zap',
    '--log-outputs=stderr',
  ];
  if (o.heartbeatMs !== undefined) args.push(`--heartbeat-interval=${o.heartbeatMs}`);
  if (o.electionMs !== undefined) args.push(`--election-timeout=${o.electionMs}`);
  if (o.extraArgs !== undefined) args.push(...o.extraArgs);
  return args;
}

/** Shared with etcd-cluster.ts. */
export function describeFailure(reason: unknown, name: string, timeoutMs: number): string {
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

/** Shared with etcd-cluster.ts. */
export async function launch(opts: EtcdMemberOptions): Promise<RunningMember> {
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
