import type { ContenderSpace } from '../../etcd/keys.js';
import type { EtcdStore, KeyValue } from '../../etcd/store.js';
import { DomainError, InvalidInputError } from '../errors.js';
import type { FencingToken } from '../grant.js';
import { highestAbove, type WriteVerdict, type WriteView } from './fencing.js';

/**
 * Why a fenced write (or delete) with `w.token` is refused, as the error to answer: a future
 * token, not the holder, the grant gone, or a stale token with the token that won.
 */
export async function fencedRejection(
  d: { store: EtcdStore; space: ContenderSpace },
  w: { slot: string; record: string; token: FencingToken },
  verdict: Exclude<WriteVerdict, { kind: 'ok' }>,
  view: WriteView,
  oldest: KeyValue | undefined,
  releasedToken: FencingToken | undefined,
  signal: AbortSignal | undefined,
): Promise<DomainError> {
  const where = `slot "${w.slot}"`;
  switch (verdict.kind) {
    case 'future':
      return new InvalidInputError(
        `token ${w.token} is above etcd's current revision ${view.revision}: no grant has it`,
        [{ pointer: '/body/token', detail: 'is from the future (above the current revision)' }],
      );
    case 'not_holder':
      return new DomainError(
        'not_holder',
        verdict.waiting
          ? `grant ${w.token} of ${where} is still waiting in the queue; it may not write yet`
          : `the secret does not belong to grant ${w.token} of ${where}`,
      );
    case 'stale':
    case 'gone':
      break;
  }
  const holder = await currentHolderToken(d, w.slot, view.capacity, oldest, signal);
  const written = highestAbove(w.token, [view.record?.token]);
  const granted = highestAbove(w.token, [holder, releasedToken]);
  if (verdict.kind === 'gone' && written === undefined && granted === undefined) {
    return new DomainError(
      'grant_gone',
      `grant ${w.token} of ${where} no longer exists (released, or its lease expired); nothing was written`,
    );
  }
  // The token that beat this write: the record's writer if it is newer, else the newer grant.
  const won = written ?? granted ?? w.token;
  const detail =
    verdict.kind === 'stale'
      ? `token ${w.token} is stale: record "${w.record}" of ${where} was already written with token ${won}`
      : `grant ${w.token} of ${where} has ended (released, or its lease expired) and ` +
        (written === undefined
          ? `token ${won} has been granted since`
          : `record "${w.record}" was since written with token ${won}`) +
        '; a paused or late holder must not write';
  return new DomainError('stale_token', `${detail}; nothing was written`, {
    extensions: {
      token: w.token,
      winningToken: won,
      ...(holder === undefined ? {} : { currentHolderToken: holder }),
    },
  });
}

/** The highest token among the slot's current holders, for error messages only. */
async function currentHolderToken(
  d: { store: EtcdStore; space: ContenderSpace },
  slot: string,
  capacity: number,
  oldest: KeyValue | undefined,
  signal: AbortSignal | undefined,
): Promise<FencingToken | undefined> {
  if (oldest === undefined || capacity <= 1) return oldest?.createRevision;
  const head = await d.store.range(
    {
      prefix: d.space.contenders(slot),
      sort: { target: 'create', order: 'asc' },
      limit: capacity,
      keysOnly: true,
    },
    { signal },
  );
  return head.kvs[head.kvs.length - 1]?.createRevision;
}

/** The token of a release marker, if it can be read. */
export function markerToken(kv: KeyValue | undefined): FencingToken | undefined {
  if (kv === undefined) return undefined;
  try {
    const parsed = JSON.parse(kv.value) as { token?: unknown };
    return typeof parsed.token === 'string' ? parsed.token : undefined;
  } catch {
    return undefined;
  }
}
