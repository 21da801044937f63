/**
 * What a chaos run records, one JSON object per line: the client operation history, etcd's own
 * event history of the service prefix, and the faults injected. Times are {@link nowMs}.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Milliseconds on one clock shared by every process of a run: `performance.timeOrigin` (the wall
 * clock when the process started, sub-millisecond) plus `performance.now()` (monotonic). Processes
 * on one machine agree on it as long as the wall clock is not stepped while a run starts processes;
 * inside a process it never goes back. Checkers only compare these times with each other.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** HTTP-level operations of the workload and of the fault driver. */
export type OpKind =
  | 'acquire'
  | 'keepalive'
  | 'release'
  | 'campaign'
  | 'leader-keepalive'
  | 'resign'
  | 'fenced-write'
  | 'fenced-read'
  | 'revoke';

/**
 * One completed request: `ok` = 2xx; `fail` = a definite refusal (4xx); `info` = unknown outcome
 * (connection error, timeout, 5xx), which may or may not have taken effect.
 */
export interface OpRecord {
  proc: string;
  seq: number;
  kind: OpKind;
  space: 'slot' | 'election';
  name: string;
  capacity: number;
  replica: string;
  invoke: number;
  complete: number;
  status: number;
  outcome: 'ok' | 'fail' | 'info';
  code?: string | undefined;
  /** The problem detail or connection error of a 5xx / failed request (for diagnosis). */
  detail?: string | undefined;
  /** The grant's token (acquire/campaign), or the token the request used. */
  token?: string | undefined;
  /** Acquire records of one bundle grant (one per slot) share its id (src/domain/bundles/). */
  bundle?: string | undefined;
  /** The contender key the grant's secret maps to (acquire/campaign, and requests that use it). */
  key?: string | undefined;
  expiresInMs?: number | undefined;
  record?: string | undefined;
  /** The value written (fenced writes; it names the writer) or read. */
  value?: string | undefined;
  /** etcd revision reported by the service (fenced write/read) or by etcd (revoke). */
  revision?: string | undefined;
}

/** One etcd event under the service prefix (from a watch with previous values). */
export interface EventRecord {
  type: 'put' | 'delete';
  key: string;
  revision: string;
  createRevision: string;
  version: string;
  lease: string;
  value: string;
}

/** A fault: when it was injected and when it was healed (end = start for instant faults). */
export interface FaultRecord {
  name: string;
  target: string;
  start: number;
  end: number;
  detail?: string | undefined;
}

/** What the checkers need to know about a run besides the histories. */
export interface RunLayout {
  /** The service's ETCD_PREFIX. */
  prefix: string;
  /** Capacity of every slot and election (elections: 1) the run used, by name. */
  capacities: { slots: Record<string, number>; elections: Record<string, number> };
}

export function appendJsonLine(file: string, value: unknown): void {
  appendFileSync(file, `${JSON.stringify(value)}\n`);
}

export function writeJsonLines(file: string, values: readonly unknown[]): void {
  writeFileSync(file, values.map(v => `${JSON.stringify(v)}\n`).join(''));
}

/** Reads a JSON-lines file; a torn last line (a process killed mid-write) is skipped. */
export function readJsonLines<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // torn line
    }
  }
  return out;
}
