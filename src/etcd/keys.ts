/**
 * The key layout under one prefix. Slot and election names may contain "/", so each name is
 * closed by "#", a character names cannot contain: the range of one slot is then never a prefix
 * of another slot's range ("a#h/" vs "a/h#h/").
 *
 *   <p>s/<slot>#h/<holder-id>   contender (holder or waiter) of a slot, on its grant or session lease
 *   <p>s/<slot>#r               last clean release of the slot: {token, at}; no lease
 *   <p>s/<slot>#d/<token>       lock-delay key of a holder, on a lease of TTL + delay (see lock-delay.ts)
 *   <p>e/<name>#h/<id>          election candidate, on its lease (same layout as slots)
 *   <p>e/<name>#r               last resignation of the election
 *   <p>x/<lease-hex>/<id>       client session marker, on the session's lease
 *   <p>f/<slot>#v/<record>      fenced record of a slot: {token, value, at}, written only with a
 *                               live token not lower than the one stored; no lease
 *   <p>b/<bundle-id>            index of a bundle (several slots taken together): its slots, on the
 *                               bundle's lease; each slot holds the member key <p>s/<slot>#h/b.<id>
 */
export class KeyLayout {
  readonly slots: string;
  readonly elections: string;
  readonly sessions: string;
  readonly fenced: string;
  readonly bundles: string;

  constructor(readonly prefix: string) {
    this.slots = `${prefix}s/`;
    this.elections = `${prefix}e/`;
    this.sessions = `${prefix}x/`;
    this.fenced = `${prefix}f/`;
    this.bundles = `${prefix}b/`;
  }

  /** The index key of bundle `id` (the public id of its secret). */
  bundle(id: string): string {
    return `${this.bundles}${id}`;
  }

  session(leaseHex: string, sessionId: string): string {
    return `${this.sessions}${leaseHex}/${sessionId}`;
  }

  /** The key of fenced record `record` of `slot` (record names contain no "/" or "#"). */
  fencedRecord(slot: string, record: string): string {
    return `${this.fenced}${slot}#v/${record}`;
  }
}

/**
 * One family of FIFO queues keyed by name: slots, or elections. The semaphore, its watch and its
 * reader work on a space, so elections reuse the audited slot algorithm with capacity 1.
 */
export interface ContenderSpace {
  /** What the names are, for messages: "slot" or "election". */
  readonly noun: string;
  /** The prefix of every key of the space (one watch covers it). */
  readonly root: string;
  /** The prefix of every key of `name` (contenders, release marker, lock-delay keys). */
  keysOf(name: string): string;
  /** The prefix of the contender keys of `name`. */
  contenders(name: string): string;
  /** The key of one contender. */
  contender(name: string, id: string): string;
  /** The key recording the last clean release of `name`. */
  releaseMarker(name: string): string;
  /** The prefix of the lock-delay keys of `name` (one per holder of a slot with lock-delay). */
  delays(name: string): string;
  /** The lock-delay key of the holder whose token is `token`. */
  delay(name: string, token: string): string;
  /** Splits a key of the space into its name and the part after "#". */
  parse(key: string): { name: string; rest: string } | undefined;
}

/** The space of slots under `keys`. */
export function slotSpace(keys: KeyLayout): ContenderSpace {
  return spaceOf('slot', keys.slots);
}

/** The space of elections under `keys`. */
export function electionSpace(keys: KeyLayout): ContenderSpace {
  return spaceOf('election', keys.elections);
}

function spaceOf(noun: string, root: string): ContenderSpace {
  return {
    noun,
    root,
    keysOf: name => `${root}${name}#`,
    contenders: name => `${root}${name}#h/`,
    contender: (name, id) => `${root}${name}#h/${id}`,
    releaseMarker: name => `${root}${name}#r`,
    delays: name => `${root}${name}#d/`,
    delay: (name, token) => `${root}${name}#d/${token}`,
    parse: key => {
      if (!key.startsWith(root)) return undefined;
      const tail = key.slice(root.length);
      const hash = tail.indexOf('#');
      return hash < 0 ? undefined : { name: tail.slice(0, hash), rest: tail.slice(hash + 1) };
    },
  };
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
