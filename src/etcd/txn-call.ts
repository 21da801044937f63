/**
 * One etcd `KV/Txn` call with slotlock's own wire codec ({@link encodeTxn}), through etcd3's
 * connection pool: the same host choice, circuit breakers, global retry policy, auth token
 * refresh and default deadline as etcd3's own `kv.txn`, without its per-call object conversions.
 */
import { castGrpcError, EtcdInvalidAuthTokenError, type Etcd3 } from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';
import { poolOf, type GrpcMetadata } from './pool.js';
import { asBuffer } from './wire.js';
import { decodeRangeAnswer, decodeTxnAnswer, type WireTxnAnswer } from './txn-codec.js';

/** The part of a grpc-js client used here (etcd3's KV service client is one). */
interface UnaryClient {
  makeUnaryRequest<Req, Res>(
    method: string,
    serialize: (value: Req) => Buffer,
    deserialize: (value: Buffer) => Res,
    argument: Req,
    metadata: GrpcMetadata,
    options: object,
    callback: (err: Error | null, value?: Res) => void,
  ): unknown;
}

const raw = (bytes: Buffer): Buffer => bytes;

/** A unary call slotlock encodes itself: its service, its method path and its answer's decoder. */
export interface UnaryMethod<Res> {
  service: 'KV' | 'Lease';
  path: string;
  decode: (bytes: Uint8Array) => Res;
}

const txnMethod: UnaryMethod<WireTxnAnswer> = {
  service: 'KV',
  path: '/etcdserverpb.KV/Txn',
  decode: decodeTxnAnswer,
};

function callOnce<Res>(
  method: UnaryMethod<Res>,
  grpcClient: UnaryClient,
  metadata: GrpcMetadata,
  options: object,
  request: Uint8Array,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    grpcClient.makeUnaryRequest(
      method.path,
      asBuffer,
      raw,
      request,
      metadata,
      options,
      (err, res) => {
        if (err !== null) {
          reject(castGrpcError(err));
          return;
        }
        try {
          resolve(method.decode(res ?? Buffer.alloc(0)));
        } catch (decodeErr) {
          reject(decodeErr instanceof Error ? decodeErr : new Error(String(decodeErr)));
        }
      },
    );
  });
}

/** The client's default options for a unary KV call (its deadline), from etcd3's factory. */
function defaultCallOptions(factory: unknown): object {
  if (typeof factory === 'function') {
    const made: unknown = (factory as (ctx: object) => unknown)({
      service: 'KV',
      method: 'txn',
      isStream: false,
    });
    return typeof made === 'object' && made !== null ? made : {};
  }
  return typeof factory === 'object' && factory !== null ? factory : {};
}

/** A linearizable range read (`KV/Range`). */
export const rangeMethod: UnaryMethod<ReturnType<typeof decodeRangeAnswer>> = {
  service: 'KV',
  path: '/etcdserverpb.KV/Range',
  decode: decodeRangeAnswer,
};

/**
 * Sends the encoded TxnRequest `request` and decodes etcd's answer. `deadline` (epoch ms) replaces
 * the client's default deadline when given. Errors are etcd3's (`castGrpcError`), as from `kv.txn`.
 */
export function sendTxn(
  client: Etcd3,
  request: Uint8Array,
  deadline: number | undefined,
): Promise<WireTxnAnswer> {
  return sendUnary(client, txnMethod, request, deadline);
}

/** {@link sendTxn} for any unary method slotlock encodes itself (e.g. the lease calls). */
export async function sendUnary<Res>(
  client: Etcd3,
  method: UnaryMethod<Res>,
  request: Uint8Array,
  deadline: number | undefined,
): Promise<Res> {
  const pool = poolOf(client);
  const defaults = defaultCallOptions(pool.callOptionsFactory);
  const options = deadline === undefined ? defaults : { ...defaults, deadline };
  let lastError: unknown;
  try {
    return await pool.globalPolicy.execute(() =>
      pool.withConnection<UnaryClient, Promise<Res>>(
        method.service,
        async ({ client: grpcClient, metadata }) => {
          try {
            return await callOnce(method, grpcClient, metadata, options, request);
          } catch (err) {
            // An expired simple-auth token: fetch a new one and send again, as etcd3 does.
            if (err instanceof EtcdInvalidAuthTokenError) {
              pool.authenticator?.invalidateMetadata?.();
              return sendUnary(client, method, request, deadline);
            }
            lastError = err;
            throw err;
          }
        },
        pool.shuffledHosts(),
      ),
    );
  } catch (err) {
    // A breaker that opened because of an earlier error: report that error, as etcd3 does.
    if (isBrokenCircuitError(err) && lastError !== undefined && !isBrokenCircuitError(lastError)) {
      throw lastError as Error;
    }
    throw err;
  }
}
