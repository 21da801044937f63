import type { IKeyValue } from 'etcd3';
import type { WireResult } from './txn-codec.js';

/*
 * The shapes of slotlock's transactions: its own types for keys, compares, ranges and ops, and
 * the answers as slotlock reads them (txn-codec.ts puts them on the wire). Pure functions.
 */

/** A key-value pair as slotlock sees it: strings, with revisions as decimal strings. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  version: string;
  lease: string;
}

/** One condition of a transaction, e.g. `{ key, target: 'create', op: '==', value: '0' }`. */
export interface Compare {
  key: string;
  target: 'create' | 'mod' | 'version' | 'value' | 'lease';
  op: '==' | '!=' | '>' | '<';
  value: string;
}

/** A key range: one key, or every key under a prefix, with optional etcd filters. */
export interface RangeSpec {
  key?: string;
  prefix?: string;
  limit?: number;
  sort?: { target: 'create' | 'key' | 'mod'; order: 'asc' | 'desc' };
  minCreateRevision?: string;
  maxCreateRevision?: string;
  countOnly?: boolean;
  keysOnly?: boolean;
  /** Read the store as it was at this revision (etcd history); fails once it is compacted. */
  revision?: string;
}

export type TxnOp =
  | { put: { key: string; value: string; lease?: string; ignoreLease?: boolean } }
  | { delete: { key: string } | { prefix: string } }
  | { range: RangeSpec };

export type TxnResult =
  | { kind: 'range'; kvs: KeyValue[]; count: number }
  | { kind: 'put' }
  | { kind: 'delete'; deleted: number };

/** A transaction: `compare` all true → `success` ops, else `failure` ops. */
export interface Txn {
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

/**
 * etcd computes `count` before applying the create-revision filters, so a filtered count is
 * taken from the keys returned instead (the request was sent keys-only).
 */
export function hasFilter(spec: RangeSpec): boolean {
  return spec.minCreateRevision !== undefined || spec.maxCreateRevision !== undefined;
}

/** One op's answer of a transaction as slotlock sees it (see {@link hasFilter} for counts). */
export function fromWire(r: WireResult, op: TxnOp | undefined): TxnResult {
  if (r.kind === 'range') {
    const spec = op !== undefined && 'range' in op ? op.range : undefined;
    if (spec !== undefined && hasFilter(spec)) {
      return { kind: 'range', kvs: spec.countOnly === true ? [] : r.kvs, count: r.kvs.length };
    }
    return { kind: 'range', kvs: r.kvs, count: Number(r.count) };
  }
  if (r.kind === 'delete') return { kind: 'delete', deleted: Number(r.deleted) };
  return { kind: 'put' };
}

/** A transaction's largest op list: what etcd counts against `--max-txn-ops`. */
export function opsOf(t: Txn): number {
  return Math.max(t.compare.length, t.success.length, t.failure?.length ?? 0);
}

/** Converts etcd3's wire key-value into {@link KeyValue}. */
export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}

/** Reads the range result at `index` of a transaction, failing loudly if the shape is wrong. */
export function rangeAt(results: TxnResult[], index: number): { kvs: KeyValue[]; count: number } {
  const r = results[index];
  if (r?.kind !== 'range') throw new Error(`transaction result ${index} is not a range`);
  return r;
}
