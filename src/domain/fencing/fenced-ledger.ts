import { createHash } from 'node:crypto';
import type { KeyValue, TxnOp } from '../../etcd/store.js';
import { DomainError } from '../errors.js';

/** The storage limits of fenced records; 0 switches a per-principal limit off. */
export interface FencedLimits {
  /** Records one principal may have (last written by it) across all slots. */
  principalRecords: number;
  /** UTF-8 bytes of value one principal may have stored across all slots. */
  principalBytes: number;
  /** Records one slot may have. */
  slotRecords: number;
  /** UTF-8 bytes of value one slot may have. */
  slotBytes: number;
}

/** What the ledger tells a write: this slot's and this principal's records and bytes. */
export interface LedgerView {
  slot: Map<string, number>;
  principal: Map<string, number>;
}

/**
 * The ledger of fenced storage, in etcd next to the records so every replica sees it: for each
 * record one key per slot (`<p>q/f/s/<slot>#<record>`) and one per principal that last wrote it
 * (`<p>q/f/p/<principal-hash>/<slot>#<record>`), each holding the value's size in bytes. They are
 * written and deleted in the same transaction as the record and put on the record's lease (TTL),
 * so they go exactly when the record goes. A write reads both ranges (bounded by the limits) and
 * is refused with 507 `storage_quota_exceeded` before anything is written.
 */
export class FencedLedger {
  private readonly root: string;

  constructor(
    prefix: string,
    readonly limits: FencedLimits,
  ) {
    this.root = `${prefix}q/f/`;
  }

  /** The prefix of one slot's ledger keys. */
  slotPrefix(slot: string): string {
    return `${this.root}s/${slot}#`;
  }

  /** The prefix of one principal's ledger keys (the id is hashed: it may contain anything). */
  principalPrefix(principal: string): string {
    const h = createHash('sha256').update(principal).digest('hex').slice(0, 32);
    return `${this.root}p/${h}/`;
  }

  /** The two reads a write adds to its view transaction. */
  readOps(slot: string, principal: string): TxnOp[] {
    return [
      { range: { prefix: this.slotPrefix(slot) } },
      { range: { prefix: this.principalPrefix(principal) } },
    ];
  }

  /** Turns the two reads of {@link readOps} into sizes by ledger entry. */
  view(slotKvs: KeyValue[], principalKvs: KeyValue[]): LedgerView {
    return { slot: sizes(slotKvs), principal: sizes(principalKvs) };
  }

  /**
   * Refuses a write of `bytes` to `record` of `slot` by `principal` that would take the slot or
   * the principal past a limit (an overwrite counts the difference).
   */
  check(
    view: LedgerView,
    w: { slot: string; record: string; principal: string; bytes: number },
  ): void {
    const slotKey = `${this.slotPrefix(w.slot)}${w.record}`;
    const mine = `${this.principalPrefix(w.principal)}${w.slot}#${w.record}`;
    const slotAfter = after(view.slot, slotKey, w.bytes);
    // The principal's ledger holds this record only if it wrote it last: else it counts as new.
    const principalAfter = after(view.principal, mine, w.bytes);
    const where = `record "${w.record}" of slot "${w.slot}"`;
    const refuse = (what: string, limit: number, unit: string) =>
      new DomainError(
        'storage_quota_exceeded',
        `${where} would take ${what} past its limit of ${limit} ${unit}; nothing was written ` +
          '(delete records, or let their TTL expire)',
        { extensions: { limit, unit, scope: what.startsWith('the slot') ? 'slot' : 'principal' } },
      );
    if (slotAfter.count > this.limits.slotRecords) {
      throw refuse('the slot', this.limits.slotRecords, 'records');
    }
    if (slotAfter.bytes > this.limits.slotBytes) {
      throw refuse('the slot', this.limits.slotBytes, 'bytes');
    }
    const { principalRecords, principalBytes } = this.limits;
    if (principalRecords > 0 && principalAfter.count > principalRecords) {
      throw refuse('this principal', principalRecords, 'records');
    }
    if (principalBytes > 0 && principalAfter.bytes > principalBytes) {
      throw refuse('this principal', principalBytes, 'bytes');
    }
  }

  /** The ledger writes of a record write (on the record's lease; `lease` undefined: none). */
  writeOps(
    w: { slot: string; record: string; principal: string; bytes: number },
    previousOwner: string | undefined,
    lease: string | undefined,
  ): TxnOp[] {
    const value = String(w.bytes);
    const onLease = lease === undefined ? {} : { lease };
    const ops: TxnOp[] = [
      { put: { key: `${this.slotPrefix(w.slot)}${w.record}`, value, ...onLease } },
      {
        put: {
          key: `${this.principalPrefix(w.principal)}${w.slot}#${w.record}`,
          value,
          ...onLease,
        },
      },
    ];
    if (previousOwner !== undefined && previousOwner !== w.principal) {
      ops.push({
        delete: { key: `${this.principalPrefix(previousOwner)}${w.slot}#${w.record}` },
      });
    }
    return ops;
  }

  /** The ledger deletes of a record delete. */
  deleteOps(slot: string, record: string, owner: string | undefined): TxnOp[] {
    const ops: TxnOp[] = [{ delete: { key: `${this.slotPrefix(slot)}${record}` } }];
    if (owner !== undefined) {
      ops.push({ delete: { key: `${this.principalPrefix(owner)}${slot}#${record}` } });
    }
    return ops;
  }
}

function sizes(kvs: KeyValue[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const kv of kvs) {
    const n = Number(kv.value);
    m.set(kv.key, Number.isSafeInteger(n) && n >= 0 ? n : 0);
  }
  return m;
}

/** Count and bytes of `entries` once `key` holds `bytes`. */
function after(
  entries: Map<string, number>,
  key: string,
  bytes: number,
): { count: number; bytes: number } {
  let total = 0;
  for (const [k, n] of entries) if (k !== key) total += n;
  return { count: entries.size + (entries.has(key) ? 0 : 1), bytes: total + bytes };
}
