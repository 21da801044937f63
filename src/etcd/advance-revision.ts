import type { Etcd3 } from 'etcd3';

/**
 * Advances etcd's revision past `past` by overwriting one throwaway key until the revision is
 * above it, then deleting the key (etcd 3.4 has no `--bump-revision` on restore). Every write
 * takes one revision; `concurrency` writes are kept in flight. Resolves with the new revision.
 * After a restore from a snapshot this makes every new fencing token larger than any token
 * handed out before the restore (see docs/reliability.md, "Backup and restore").
 */
export async function advanceRevision(
  client: Etcd3,
  past: bigint,
  opts: { key?: string; concurrency?: number; signal?: AbortSignal } = {},
): Promise<bigint> {
  const key = opts.key ?? 'slotlock-revision-advance';
  const concurrency = opts.concurrency ?? 32;
  let revision = BigInt((await client.kv.range({ key: Buffer.from(key) })).header.revision);
  while (revision <= past) {
    opts.signal?.throwIfAborted();
    const left = past - revision + 1n;
    const n = left < BigInt(concurrency) ? Number(left) : concurrency;
    const answers = await Promise.all(
      Array.from({ length: n }, () =>
        client.kv.put({ key: Buffer.from(key), value: Buffer.from(revision.toString()) }),
      ),
    );
    for (const a of answers) {
      const r = BigInt(a.header.revision);
      if (r > revision) revision = r;
    }
  }
  const deleted = await client.kv.deleteRange({ key: Buffer.from(key) });
  return BigInt(deleted.header.revision);
}
