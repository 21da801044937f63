/*
 * etcd's Txn messages on the wire (etcdserverpb.TxnRequest / TxnResponse, field numbers from
 * etcd's rpc.proto and mvccpb's kv.proto), written straight from slotlock's own transaction shape
 * and read straight into it, with protobufjs's wire reader and writer.
 *
 * Why not etcd3's `kv.txn`: on the hot path (every acquire and release) its generic route costs
 * more CPU than etcd's answer takes to arrive. It builds an intermediate object per compare and
 * op, converts it with proto-loader's reflection (`fromObject`), decodes every int64 into a `Long`
 * and back into a string (`toObject`), and runs two policy wrappers per call. Here a batch of
 * transactions is composed from the already encoded members without re-encoding them.
 */
import pb from 'protobufjs/minimal.js';
import { prefixEnd } from './keys.js';
import {
  readFields,
  readHeaderRevision,
  readInt64,
  readKeyValue,
  tag,
  writeInt64,
} from './wire.js';
import type { Compare, KeyValue, RangeSpec, Txn, TxnOp } from './txn-wire.js';

/** One op's answer as read from the wire, before the op's own filters are applied. */
export type WireResult =
  | { kind: 'range'; kvs: KeyValue[]; count: string }
  | { kind: 'put' }
  | { kind: 'delete'; deleted: string }
  | { kind: 'txn'; txn: WireTxnAnswer };

/** A TxnResponse: the header's revision, which branch ran, and each op's answer. */
export interface WireTxnAnswer {
  header: { revision: string };
  succeeded: boolean;
  responses: WireResult[];
}

const compareResult = { '==': 0, '>': 1, '<': 2, '!=': 3 } as const;
const compareTarget = { version: 0, create: 1, mod: 2, value: 3, lease: 4 } as const;
/** The field of Compare's `target_union` each target sets. */
const compareField = { version: 4, create: 5, mod: 6, value: 7, lease: 8 } as const;
const sortOrder = { asc: 1, desc: 2 } as const;
const sortTarget = { key: 0, create: 2, mod: 3 } as const;

function writeCompare(w: pb.Writer, c: Compare): void {
  w.uint32(tag(1, 2)).fork();
  if (compareResult[c.op] !== 0) w.uint32(tag(1, 0)).int32(compareResult[c.op]);
  if (compareTarget[c.target] !== 0) w.uint32(tag(2, 0)).int32(compareTarget[c.target]);
  w.uint32(tag(3, 2)).string(c.key);
  // A oneof member is sent even when zero: its presence is what says which target is compared.
  if (c.target === 'value') w.uint32(tag(7, 2)).string(c.value);
  else writeInt64(w, compareField[c.target], c.value);
  w.ldelim();
}

export function writeRange(w: pb.Writer, spec: RangeSpec): void {
  if (spec.prefix !== undefined) {
    w.uint32(tag(1, 2)).string(spec.prefix);
    w.uint32(tag(2, 2)).bytes(prefixEnd(spec.prefix));
  } else if (spec.key !== undefined) {
    w.uint32(tag(1, 2)).string(spec.key);
  } else {
    throw new Error('a range needs a key or a prefix');
  }
  if (spec.limit !== undefined) w.uint32(tag(3, 0)).int64(spec.limit);
  if (spec.revision !== undefined) writeInt64(w, 4, spec.revision);
  if (spec.sort !== undefined) {
    w.uint32(tag(5, 0)).int32(sortOrder[spec.sort.order]);
    if (sortTarget[spec.sort.target] !== 0) {
      w.uint32(tag(6, 0)).int32(sortTarget[spec.sort.target]);
    }
  }
  const filtered = spec.minCreateRevision !== undefined || spec.maxCreateRevision !== undefined;
  // etcd counts before the create-revision filters: a filtered count reads the keys instead.
  if (spec.keysOnly === true || (spec.countOnly === true && filtered))
    w.uint32(tag(8, 0)).bool(true);
  if (spec.countOnly === true && !filtered) w.uint32(tag(9, 0)).bool(true);
  if (spec.minCreateRevision !== undefined) writeInt64(w, 12, spec.minCreateRevision);
  if (spec.maxCreateRevision !== undefined) writeInt64(w, 13, spec.maxCreateRevision);
}

/** A RequestOp in field `field` (2 success, 3 failure) of a TxnRequest. */
function writeOp(w: pb.Writer, field: number, op: TxnOp): void {
  w.uint32(tag(field, 2)).fork();
  if ('put' in op) {
    const p = op.put;
    w.uint32(tag(2, 2)).fork();
    w.uint32(tag(1, 2)).string(p.key);
    w.uint32(tag(2, 2)).string(p.value);
    if (p.lease !== undefined && p.lease !== '0') writeInt64(w, 3, p.lease);
    if (p.ignoreLease === true) w.uint32(tag(6, 0)).bool(true);
    w.ldelim();
  } else if ('delete' in op) {
    const d = op.delete;
    w.uint32(tag(3, 2)).fork();
    if ('prefix' in d) {
      w.uint32(tag(1, 2)).string(d.prefix);
      w.uint32(tag(2, 2)).bytes(prefixEnd(d.prefix));
    } else {
      w.uint32(tag(1, 2)).string(d.key);
    }
    w.ldelim();
  } else {
    w.uint32(tag(1, 2)).fork();
    writeRange(w, op.range);
    w.ldelim();
  }
  w.ldelim();
}

/** A transaction as the bytes of an etcdserverpb.TxnRequest. */
export function encodeTxn(t: Txn): Uint8Array {
  const w = pb.Writer.create();
  for (const c of t.compare) writeCompare(w, c);
  for (const op of t.success) writeOp(w, 2, op);
  for (const op of t.failure ?? []) writeOp(w, 3, op);
  return w.finish();
}

/** Encoded transactions as ONE TxnRequest that runs each as a nested transaction, in order. */
export function encodeBatch(members: readonly Uint8Array[]): Uint8Array {
  const w = pb.Writer.create();
  for (const m of members) {
    w.uint32(tag(2, 2)).fork();
    w.uint32(tag(4, 2)).bytes(m);
    w.ldelim();
  }
  return w.finish();
}

function readResponseOp(r: pb.Reader, end: number): WireResult {
  let result: WireResult = { kind: 'put' };
  readFields(r, end, (no, wireType) => {
    if (wireType !== 2 || no < 1 || no > 4) return false;
    const inner = r.uint32() + r.pos;
    if (no === 1) {
      const range = { kind: 'range' as const, kvs: [] as KeyValue[], count: '0' };
      readFields(r, inner, n => {
        if (n === 2) range.kvs.push(readKeyValue(r, r.uint32() + r.pos));
        else if (n === 4) range.count = readInt64(r);
        else return false;
        return true;
      });
      result = range;
    } else if (no === 3) {
      const del = { kind: 'delete' as const, deleted: '0' };
      readFields(r, inner, n => {
        if (n !== 2) return false;
        del.deleted = readInt64(r);
        return true;
      });
      result = del;
    } else if (no === 4) {
      result = { kind: 'txn', txn: readTxn(r, inner) };
    } else {
      r.pos = inner;
      result = { kind: 'put' };
    }
    return true;
  });
  return result;
}

function readTxn(r: pb.Reader, end: number): WireTxnAnswer {
  const answer: WireTxnAnswer = { header: { revision: '0' }, succeeded: false, responses: [] };
  readFields(r, end, no => {
    if (no === 1) answer.header.revision = readHeaderRevision(r, r.uint32() + r.pos);
    else if (no === 2) answer.succeeded = r.bool();
    else if (no === 3) answer.responses.push(readResponseOp(r, r.uint32() + r.pos));
    else return false;
    return true;
  });
  return answer;
}

/** Reads the bytes of an etcdserverpb.TxnResponse. */
export function decodeTxnAnswer(bytes: Uint8Array): WireTxnAnswer {
  const r = pb.Reader.create(bytes);
  return readTxn(r, r.len);
}

/** A range as the bytes of an etcdserverpb.RangeRequest (a linearizable read). */
export function encodeRange(spec: RangeSpec): Uint8Array {
  const w = pb.Writer.create();
  writeRange(w, spec);
  return w.finish();
}

/** Reads the bytes of an etcdserverpb.RangeResponse: header revision, key-values and count. */
export function decodeRangeAnswer(bytes: Uint8Array): {
  header: { revision: string };
  kvs: KeyValue[];
  count: string;
} {
  const r = pb.Reader.create(bytes);
  const answer = { header: { revision: '0' }, kvs: [] as KeyValue[], count: '0' };
  readFields(r, r.len, no => {
    if (no === 1) answer.header.revision = readHeaderRevision(r, r.uint32() + r.pos);
    else if (no === 2) answer.kvs.push(readKeyValue(r, r.uint32() + r.pos));
    else if (no === 4) answer.count = readInt64(r);
    else return false;
    return true;
  });
  return answer;
}
