/**
 * The key layout under one prefix. Slot and election names may contain "/", so each name is
 * closed by "#", a character names cannot contain: the range of one slot is then never a prefix
 * of another slot's range ("a#h/" vs "a/h#h/").
 *
 *   <p>s/<slot>#h/<holder-id>   contender (holder or waiter) of a slot, on its grant or session lease
 *   <p>s/<slot>#r               last clean release of the slot: {token, at}; no lease
 *   <p>s/<slot>#d               lock-delay barrier after an unclean expiry, on a lease of the delay
 *   <p>e/<name>#c/<id>          election candidate, on its lease
 *   <p>x/<lease-hex>/<id>       client session marker, on the session's lease
 *   <p>f/<slot>#v               fenced record of a slot, written only with a live token
 */
export class KeyLayout {
  readonly slots: string;
  readonly elections: string;
  readonly sessions: string;
  readonly fenced: string;

  constructor(readonly prefix: string) {
    this.slots = `${prefix}s/`;
    this.elections = `${prefix}e/`;
    this.sessions = `${prefix}x/`;
    this.fenced = `${prefix}f/`;
  }

  slotHolders(slot: string): string {
    return `${this.slots}${slot}#h/`;
  }

  holder(slot: string, holderId: string): string {
    return `${this.slotHolders(slot)}${holderId}`;
  }

  releaseMarker(slot: string): string {
    return `${this.slots}${slot}#r`;
  }

  lockDelay(slot: string): string {
    return `${this.slots}${slot}#d`;
  }

  candidates(election: string): string {
    return `${this.elections}${election}#c/`;
  }

  candidate(election: string, candidateId: string): string {
    return `${this.candidates(election)}${candidateId}`;
  }

  session(leaseHex: string, sessionId: string): string {
    return `${this.sessions}${leaseHex}/${sessionId}`;
  }

  fencedRecord(slot: string): string {
    return `${this.fenced}${slot}#v`;
  }

  /** Splits a key under {@link slots} into its slot name and the part after "#". */
  parseSlotKey(key: string): { slot: string; rest: string } | undefined {
    if (!key.startsWith(this.slots)) return undefined;
    const tail = key.slice(this.slots.length);
    const hash = tail.indexOf('#');
    if (hash < 0) return undefined;
    return { slot: tail.slice(0, hash), rest: tail.slice(hash + 1) };
  }

  /** Splits a key under {@link elections} into its election name and the part after "#". */
  parseElectionKey(key: string): { election: string; rest: string } | undefined {
    if (!key.startsWith(this.elections)) return undefined;
    const tail = key.slice(this.elections.length);
    const hash = tail.indexOf('#');
    if (hash < 0) return undefined;
    return { election: tail.slice(0, hash), rest: tail.slice(hash + 1) };
  }
}

/** The exclusive end of the range of keys starting with `prefix` (etcd's "prefix end"). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i];
    if (byte !== undefined && byte < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
