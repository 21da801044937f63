/*
 * etcd's Watch messages on the wire (etcdserverpb.WatchRequest / WatchResponse, mvccpb.Event;
 * field numbers from etcd3's proto/rpc.proto and kv.proto), written and read with protobufjs's
 * wire reader and writer straight into slotlock's own shapes. etcd3's proto-loader client turns
 * every response into an object graph (`toObject`) with each int64 parsed into a `Long` and
 * printed back into a string, which every watcher pays on every handover: see txn-codec.ts.
 */
import pb from 'protobufjs/minimal.js';
import { readFields, readHeaderRevision, readInt64, readKeyValue, writeInt64 } from './wire.js';
import type { KeyValue } from './txn-wire.js';

/** One change to a key, as seen by a watch. `revision` is the change's own revision. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  revision: string;
  kv: KeyValue;
  prev: KeyValue | undefined;
}

/** A WatchCreateRequest: the range [key, rangeEnd) watched from `startRevision` (inclusive). */
export interface WatchCreate {
  key: Uint8Array;
  rangeEnd?: Uint8Array | undefined;
  /** A decimal int64; absent or '0': from now. */
  startRevision?: string | undefined;
  progressNotify?: boolean | undefined;
  /** Event types etcd leaves out. */
  filters?: readonly ('noPut' | 'noDelete')[] | undefined;
  prevKv?: boolean | undefined;
  /** A decimal int64; absent or '0': etcd picks the id. */
  watchId?: string | undefined;
  fragment?: boolean | undefined;
}

/** What a client sends on a Watch stream: create a watcher, cancel one, or ask for progress. */
export type WatchRequest = { create: WatchCreate } | { cancel: string } | { progress: true };

/** A WatchResponse, with the header reduced to its revision. int64 fields as decimal strings. */
export interface WatchAnswer {
  revision: string;
  watchId: string;
  created: boolean;
  canceled: boolean;
  /** Non-zero: the watcher's start revision was compacted (etcd cancels it). */
  compactRevision: string;
  cancelReason: string;
  /** More responses carry the rest of this revision's events. */
  fragment: boolean;
  events: WatchEvent[];
}

/** A field tag: field number and wire type (0 varint, 2 length-delimited). */
const tag = (field: number, wireType: 0 | 2): number => (field << 3) | wireType;
const filterValue = { noPut: 0, noDelete: 1 } as const;

function writeCreate(w: pb.Writer, c: WatchCreate): void {
  w.uint32(tag(1, 2)).fork();
  w.uint32(tag(1, 2)).bytes(c.key);
  if (c.rangeEnd !== undefined) w.uint32(tag(2, 2)).bytes(c.rangeEnd);
  if (c.startRevision !== undefined && c.startRevision !== '0') {
    writeInt64(w, 3, c.startRevision);
  }
  if (c.progressNotify === true) w.uint32(tag(4, 0)).bool(true);
  if (c.filters !== undefined && c.filters.length > 0) {
    w.uint32(tag(5, 2)).fork();
    for (const f of c.filters) w.int32(filterValue[f]);
    w.ldelim();
  }
  if (c.prevKv === true) w.uint32(tag(6, 0)).bool(true);
  if (c.watchId !== undefined && c.watchId !== '0') writeInt64(w, 7, c.watchId);
  if (c.fragment === true) w.uint32(tag(8, 0)).bool(true);
  w.ldelim();
}

/** A request as the bytes of an etcdserverpb.WatchRequest. */
export function encodeWatchRequest(req: WatchRequest): Uint8Array {
  const w = pb.Writer.create();
  if ('create' in req) {
    writeCreate(w, req.create);
  } else if ('cancel' in req) {
    w.uint32(tag(2, 2)).fork();
    if (req.cancel !== '0') writeInt64(w, 1, req.cancel);
    w.ldelim();
  } else {
    // An empty WatchProgressRequest: its presence is the request.
    w.uint32(tag(3, 2)).fork().ldelim();
  }
  return w.finish();
}

/** An mvccpb.Event { type = 1 (PUT 0, DELETE 1); kv = 2; prev_kv = 3 } that ends at `end`. */
function readEvent(r: pb.Reader, end: number): WatchEvent {
  let type: WatchEvent['type'] = 'put';
  let kv: KeyValue | undefined;
  let prev: KeyValue | undefined;
  readFields(r, end, no => {
    if (no === 1) type = r.int32() === 1 ? 'delete' : 'put';
    else if (no === 2) kv = readKeyValue(r, r.uint32() + r.pos);
    else if (no === 3) prev = readKeyValue(r, r.uint32() + r.pos);
    else return false;
    return true;
  });
  kv ??= { key: '', value: '', createRevision: '0', modRevision: '0', version: '0', lease: '0' };
  return { type, key: kv.key, revision: kv.modRevision, kv, prev };
}

/** Reads the bytes of an etcdserverpb.WatchResponse. */
export function decodeWatchResponse(bytes: Uint8Array): WatchAnswer {
  const r = pb.Reader.create(bytes);
  const answer: WatchAnswer = {
    revision: '0',
    watchId: '0',
    created: false,
    canceled: false,
    compactRevision: '0',
    cancelReason: '',
    fragment: false,
    events: [],
  };
  readFields(r, r.len, no => {
    if (no === 1) answer.revision = readHeaderRevision(r, r.uint32() + r.pos);
    else if (no === 2) answer.watchId = readInt64(r);
    else if (no === 3) answer.created = r.bool();
    else if (no === 4) answer.canceled = r.bool();
    else if (no === 5) answer.compactRevision = readInt64(r);
    else if (no === 6) answer.cancelReason = r.string();
    else if (no === 7) answer.fragment = r.bool();
    else if (no === 11) answer.events.push(readEvent(r, r.uint32() + r.pos));
    else return false;
    return true;
  });
  return answer;
}
