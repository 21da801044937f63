/** Looks behind the API in etcd: the key and lease of a grant or term, found by its token. */
import type { Etcd3 } from 'etcd3';

/** The lease id and remaining TTL of the key created at `token` under `prefix`, if it exists. */
export async function keyAtToken(
  client: Etcd3,
  prefix: string,
  token: string,
): Promise<{ key: string; lease: string; ttlS: number } | undefined> {
  const res = await client.getAll().prefix(prefix).exec();
  const kv = res.kvs.find(k => k.create_revision === token);
  if (kv === undefined) return undefined;
  const ttl = await client.leaseClient.leaseTimeToLive({ ID: kv.lease });
  return { key: kv.key.toString(), lease: kv.lease, ttlS: Number(ttl.TTL) };
}

/** Revokes the lease of the key created at `token`: what the server sees when a lease expires. */
export async function revokeLeaseOf(client: Etcd3, prefix: string, token: string): Promise<void> {
  const found = await keyAtToken(client, prefix, token);
  if (found === undefined) throw new Error(`no key was created at revision ${token}`);
  await client.leaseClient.leaseRevoke({ ID: found.lease });
}
