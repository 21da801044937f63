/*
 * etcd's LeaseGrant and LeaseRevoke on the wire (etcdserverpb, field numbers from rpc.proto), for
 * the per-grant lease of every non-session acquire: see txn-codec.ts for why slotlock encodes its
 * hot calls itself.
 */
import pb from 'protobufjs/minimal.js';
import type { UnaryMethod } from './txn-call.js';
import { readFields, readInt64, writeInt64 } from './wire.js';

/** What LeaseGrant answers: the new lease's id, its TTL, and etcd's error text (empty if none). */
export interface LeaseGrantAnswer {
  id: string;
  ttlS: number;
  error: string;
}

/** LeaseGrantRequest { TTL = 1; ID = 2 (0: etcd picks it) }. */
export function encodeLeaseGrant(ttlS: number): Uint8Array {
  const w = pb.Writer.create();
  writeInt64(w, 1, String(ttlS));
  return w.finish();
}

/** LeaseRevokeRequest { ID = 1 }. */
export function encodeLeaseRevoke(id: string): Uint8Array {
  const w = pb.Writer.create();
  writeInt64(w, 1, id);
  return w.finish();
}

/** LeaseGrantResponse { header = 1; ID = 2; TTL = 3; error = 4 }. */
function decodeLeaseGrant(bytes: Uint8Array): LeaseGrantAnswer {
  const r = pb.Reader.create(bytes);
  const answer: LeaseGrantAnswer = { id: '0', ttlS: 0, error: '' };
  readFields(r, r.len, no => {
    if (no === 2) answer.id = readInt64(r);
    else if (no === 3) answer.ttlS = Number(readInt64(r));
    else if (no === 4) answer.error = r.string();
    else return false;
    return true;
  });
  return answer;
}

export const leaseGrantMethod: UnaryMethod<LeaseGrantAnswer> = {
  service: 'Lease',
  path: '/etcdserverpb.Lease/LeaseGrant',
  decode: decodeLeaseGrant,
};

/** LeaseRevokeResponse carries only a header, which slotlock does not need. */
export const leaseRevokeMethod: UnaryMethod<void> = {
  service: 'Lease',
  path: '/etcdserverpb.Lease/LeaseRevoke',
  decode: () => undefined,
};
