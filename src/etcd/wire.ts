/*
 * The protobuf wire primitives slotlock's own etcd codecs share (txn-codec.ts, lease-codec.ts,
 * watch-codec.ts): field tags, int64 fields as exact decimal strings, a field loop, and the
 * KeyValue and ResponseHeader messages every etcd answer carries. On protobufjs's Reader/Writer.
 */
import pb from 'protobufjs/minimal.js';
import type { KeyValue } from './txn-wire.js';

/** Encoded bytes as the Buffer grpc-js writes, without a copy. */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A field tag: field number and wire type (0 varint, 2 length-delimited). */
export const tag = (field: number, wireType: 0 | 2): number => (field << 3) | wireType;

/**
 * Writes an int64 given as a decimal string. Most fit a double exactly; lease IDs often do not,
 * and go through BigInt into the two 32-bit halves protobufjs takes (its own string path parses
 * with `Long.fromString`, which cost more than the rest of the encoding).
 */
export function writeInt64(w: pb.Writer, field: number, value: string): void {
  w.uint32(tag(field, 0));
  if (value.length < 16) {
    w.int64(Number(value));
    return;
  }
  const bits = BigInt.asUintN(64, BigInt(value));
  w.int64({ low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: false });
}

/** Reads an int64 varint as a decimal string (exact beyond 2^53, e.g. for lease IDs). */
export function readInt64(r: pb.Reader): string {
  const buf = r.buf;
  const start = r.pos;
  let value = 0;
  let scale = 1;
  for (let pos = start; pos < r.len && pos - start < 7; pos++) {
    const byte = buf[pos] ?? 0;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      r.pos = pos + 1;
      return String(value);
    }
    scale *= 128;
  }
  let big = 0n;
  let shift = 0n;
  for (let pos = start; pos < r.len; pos++) {
    const byte = buf[pos] ?? 0;
    big |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) {
      r.pos = pos + 1;
      return BigInt.asIntN(64, big).toString();
    }
    shift += 7n;
  }
  throw new Error('etcd answer truncated inside an int64');
}

/** Runs `field` for each field of the message that ends at `end`, skipping the others. */
export function readFields(
  r: pb.Reader,
  end: number,
  field: (no: number, wireType: number) => boolean,
) {
  while (r.pos < end) {
    const t = r.uint32();
    if (!field(t >>> 3, t & 7)) r.skipType(t & 7);
  }
}

/** Reads an mvccpb.KeyValue that ends at `end` (key and value as UTF-8 strings). */
export function readKeyValue(r: pb.Reader, end: number): KeyValue {
  const kv: KeyValue = {
    key: '',
    value: '',
    createRevision: '0',
    modRevision: '0',
    version: '0',
    lease: '0',
  };
  readFields(r, end, no => {
    if (no === 1) kv.key = r.string();
    else if (no === 2) kv.createRevision = readInt64(r);
    else if (no === 3) kv.modRevision = readInt64(r);
    else if (no === 4) kv.version = readInt64(r);
    else if (no === 5) kv.value = r.string();
    else if (no === 6) kv.lease = readInt64(r);
    else return false;
    return true;
  });
  return kv;
}

/** The revision in a ResponseHeader that ends at `end`. */
export function readHeaderRevision(r: pb.Reader, end: number): string {
  let revision = '0';
  readFields(r, end, no => {
    if (no !== 3) return false;
    revision = readInt64(r);
    return true;
  });
  return revision;
}
