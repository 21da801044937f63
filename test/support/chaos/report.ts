/** Per-scenario numbers for the results table: requests, anomalies, availability, recovery. */
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { anomalies, type CheckResult } from './checkers.js';
import type { FaultRecord, OpRecord } from './records.js';
import { faultLabel, type ScenarioSpec } from './scenarios.js';

export interface ScenarioStats {
  operations: number;
  grants: number;
  /** Share of workload requests invoked during the fault that got a definite answer (2xx/4xx). */
  availability: number | null;
  /** Fault start to the first success after the last failed (5xx/timeout) request; 0 if none. */
  recoveryMs: number | null;
  fencedWrites: number;
  /** Fenced writes the store refused as stale or from an ended grant (409/410). */
  staleWritesRefused: number;
}

const failed = (op: OpRecord): boolean => op.status === 0 || op.status >= 500;

export function statsOf(ops: readonly OpRecord[], faults: readonly FaultRecord[]): ScenarioStats {
  const workload = ops.filter(op => /^c\d+$/.test(op.proc));
  const writes = ops.filter(op => op.kind === 'fenced-write');
  const base = {
    operations: ops.length,
    grants: ops.filter(
      op => (op.kind === 'acquire' || op.kind === 'campaign') && op.outcome === 'ok',
    ).length,
    fencedWrites: writes.length,
    staleWritesRefused: writes.filter(op => op.status === 409 || op.status === 410).length,
  };
  if (faults.length === 0) return { ...base, availability: null, recoveryMs: null };
  const start = Math.min(...faults.map(f => f.start));
  const end = Math.max(...faults.map(f => f.end));
  const during = workload.filter(op => op.invoke >= start && op.invoke <= end);
  const availability =
    during.length === 0 ? null : during.filter(op => !failed(op)).length / during.length;
  const failures = workload.filter(
    op => failed(op) && op.complete >= start && op.invoke <= end + 10_000,
  );
  if (failures.length === 0) return { ...base, availability, recoveryMs: 0 };
  const lastFailure = Math.max(...failures.map(op => op.complete));
  const after = workload
    .filter(op => op.outcome === 'ok' && op.invoke >= lastFailure)
    .map(op => op.complete);
  return {
    ...base,
    availability,
    recoveryMs: after.length === 0 ? null : Math.min(...after) - start,
  };
}

export interface TableRow {
  spec: ScenarioSpec;
  isolation: string;
  stats: ScenarioStats;
  results: CheckResult[];
  note?: string;
}

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
const secs = (ms: number | null): string =>
  ms === null ? 'not recovered' : `${(ms / 1000).toFixed(1)} s`;

/** The results table in Markdown. */
export function resultsTable(rows: readonly TableRow[]): string {
  const head = [
    '| scenario | fault | requests | grants | fenced writes (refused) | anomalies | availability during fault | recovery time |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const body = rows.map(r => {
    const fault =
      r.spec.fault === 'isolate-member'
        ? `${faultLabel(r.spec)} (${r.isolation})`
        : faultLabel(r.spec);
    return (
      `| ${r.spec.id}${r.note === undefined ? '' : ` (${r.note})`} | ${fault} | ${r.stats.operations} | ${r.stats.grants} | ` +
      `${r.stats.fencedWrites} (${r.stats.staleWritesRefused}) | ${anomalies(r.results)} | ${pct(r.stats.availability)} | ` +
      `${r.spec.fault === 'none' ? '-' : secs(r.stats.recoveryMs)} |`
    );
  });
  return [...head, ...body].join('\n');
}

const START = '<!-- chaos-results:start -->';
const END = '<!-- chaos-results:end -->';

/**
 * Replaces the generated results section of `file` (between the markers) with `content`, and
 * formats the file with the repo's prettier settings so `npm run lint` stays clean.
 */
export async function writeResultsSection(file: string, content: string): Promise<void> {
  const text = readFileSync(file, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${file} has no ${START} ... ${END} section`);
  const next = `${text.slice(0, from + START.length)}\n${content}\n${text.slice(to)}`;
  const options = (await resolveConfig(file)) ?? {};
  writeFileSync(file, await format(next, { ...options, filepath: file }));
}
