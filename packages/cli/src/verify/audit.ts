/**
 * The audit behind `slotlock verify`: a replay of etcd's own revision history of a slotlock key
 * prefix, checking at every revision that each slot has at most its capacity of holders (lock-delay
 * places included) and each election one leader, and that holders are admitted in token order.
 *
 * The key layout is slotlock's (a copy: the CLI imports nothing from the server):
 *   <p>s/<slot>#h/<id>      contender of a slot; value JSON with `capacity`; on a lease
 *   <p>s/<slot>#d/<token>   lock-delay key of holder <token>; closes a place while it outlives it
 *   <p>e/<name>#h/<id>      candidate of an election (capacity 1)
 * A contender holds while its place among the live contenders (by create revision) plus the places
 * closed by lock-delay is below the capacity it asked for; the slot's capacity is the oldest
 * contender's. The server never lets those disagree (capacity_conflict), so more holders than the
 * slot's capacity, or a holder admitted after a later token held, is a violation.
 */

/** One put or delete of etcd's history (or of the snapshot the replay starts from). */
export interface HistoryEvent {
  type: 'put' | 'delete';
  key: string;
  revision: bigint;
  /** The key's create revision (the fencing token of a contender); 0 for a delete. */
  createRevision: bigint;
  value: string;
}

/** What the audit found. */
export interface AuditResult {
  slots: number;
  elections: number;
  /** Distinct contender keys seen. */
  contenders: number;
  violations: string[];
}

type Space = 'slot' | 'election';

interface Contender {
  create: bigint;
  capacity: number;
}

interface NameState {
  space: Space;
  name: string;
  contenders: Map<string, Contender>;
  /** Tokens with a lock-delay key. */
  delays: Set<string>;
  /** Keys holding after the last revision. */
  held: Set<string>;
  /** Highest token that has held so far. */
  maxHeld: bigint;
}

/** Replays events of one key prefix, revision by revision. */
export class Audit {
  private readonly names = new Map<string, NameState>();
  private readonly seen = new Set<string>();
  private readonly violations: string[] = [];

  constructor(private readonly prefix: string) {}

  /** Applies every event of one revision (in order), then checks each name they touched. */
  revision(revision: bigint, events: readonly HistoryEvent[]): void {
    const touched = new Set<NameState>();
    for (const e of events) {
      const state = this.apply(e);
      if (state !== undefined) touched.add(state);
    }
    for (const state of touched) this.check(state, revision);
  }

  /** The result so far. */
  result(): AuditResult {
    const states = [...this.names.values()];
    return {
      slots: states.filter(s => s.space === 'slot').length,
      elections: states.filter(s => s.space === 'election').length,
      contenders: this.seen.size,
      violations: [...this.violations],
    };
  }

  private apply(e: HistoryEvent): NameState | undefined {
    const parsed = this.parse(e.key);
    if (parsed === undefined) return undefined;
    const state = this.stateOf(parsed.space, parsed.name);
    if (parsed.kind === 'contender') {
      if (e.type === 'delete') state.contenders.delete(e.key);
      else {
        this.seen.add(e.key);
        state.contenders.set(e.key, { create: e.createRevision, capacity: capacityOf(e.value) });
      }
    } else if (e.type === 'delete') state.delays.delete(parsed.token);
    else state.delays.add(parsed.token);
    return state;
  }

  private check(state: NameState, revision: bigint): void {
    const live = [...state.contenders.entries()].sort((a, b) => cmp(a[1].create, b[1].create));
    const oldest = live[0];
    if (oldest === undefined) {
      state.held.clear();
      return;
    }
    const tokens = new Set(live.map(([, c]) => c.create.toString()));
    const blocked = [...state.delays].filter(t => !tokens.has(t)).length;
    const holders = live.filter(([, c], place) => place + blocked < c.capacity);
    const capacity = oldest[1].capacity;
    const what = state.space === 'slot' ? 'holders' : 'leaders';
    if (holders.length + blocked > capacity) {
      const list = holders.map(([, c]) => c.create.toString()).join(', ');
      const closed = blocked > 0 ? ` and ${blocked} place(s) closed by lock-delay` : '';
      this.violations.push(
        `${state.space} "${state.name}" (capacity ${capacity}) had ${holders.length} ${what}${closed} ` +
          `at revision ${revision}: tokens ${list}`,
      );
    }
    for (const [key, c] of holders) {
      if (state.held.has(key)) continue;
      if (c.create < state.maxHeld) {
        this.violations.push(
          `${state.space} "${state.name}": token ${c.create} was admitted at revision ${revision} ` +
            `after the later token ${state.maxHeld} had held (tokens must grow)`,
        );
      }
      if (c.create > state.maxHeld) state.maxHeld = c.create;
    }
    state.held = new Set(holders.map(([key]) => key));
  }

  private stateOf(space: Space, name: string): NameState {
    const id = `${space}\u0000${name}`;
    let state = this.names.get(id);
    if (state === undefined) {
      state = {
        space,
        name,
        contenders: new Map(),
        delays: new Set(),
        held: new Set(),
        maxHeld: -1n,
      };
      this.names.set(id, state);
    }
    return state;
  }

  private parse(
    key: string,
  ):
    | { space: Space; name: string; kind: 'contender' }
    | { space: Space; name: string; kind: 'delay'; token: string }
    | undefined {
    for (const [space, root] of [
      ['slot', `${this.prefix}s/`],
      ['election', `${this.prefix}e/`],
    ] as const) {
      if (!key.startsWith(root)) continue;
      const tail = key.slice(root.length);
      const hash = tail.indexOf('#');
      if (hash < 0) return undefined;
      const name = tail.slice(0, hash);
      const rest = tail.slice(hash + 1);
      if (rest.startsWith('h/')) return { space, name, kind: 'contender' };
      if (rest.startsWith('d/')) return { space, name, kind: 'delay', token: rest.slice(2) };
      return undefined;
    }
    return undefined;
  }
}

/** The capacity a contender asked for (1 for an election candidate or an unreadable value). */
function capacityOf(value: string): number {
  try {
    const parsed = JSON.parse(value) as { capacity?: unknown };
    return typeof parsed.capacity === 'number' && parsed.capacity >= 1 ? parsed.capacity : 1;
  } catch {
    return 1;
  }
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
