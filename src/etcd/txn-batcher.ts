import { abortable } from './abortable.js';

/** How many transactions one etcd call may carry, and how many such calls may be in flight. */
export interface BatchLimits {
  /** Most transactions in one etcd call (1 turns batching off). */
  maxBatch: number;
  /** Calls in flight before new transactions queue up for the next batch. */
  maxInFlight: number;
  /**
   * etcd's `--max-txn-ops` (default 128). etcd counts a batch as its number of nested
   * transactions plus the largest operation list (compares, success or failure) of any of them,
   * and rejects the whole call above the limit; batches are sized to stay within it.
   */
  maxOps?: number | undefined;
  /**
   * Each transaction's deadline, counted from its submission: waiting for a batch counts against
   * it, one whose deadline passed while it waited is failed without being sent, and once sent
   * each waits for the answer only until its own deadline (the call carries the latest of its
   * members'). Undefined: the client's own deadline.
   */
  deadlineMs?: number | undefined;
}

/**
 * One member's own failure inside a batch's answer (e.g. it was resent alone after etcd rejected
 * the whole batch), as opposed to the batch call failing for every member.
 */
export class MemberFailed {
  constructor(readonly error: unknown) {}
}

/** What the batcher tells and asks its owner. */
export interface BatchHooks<Req> {
  /** Told the size of every batch sent. */
  observeBatch?: (size: number) => void;
  /** The error of a transaction whose deadline passed before it could be sent. */
  expired?: () => Error;
  /** The error of a transaction whose deadline passed after it was sent (outcome unknown). */
  late?: () => Error;
  /** The operation count of a request (see {@link BatchLimits.maxOps}). */
  opsOf?: (req: Req) => number;
}

interface Pending<Req, Res> {
  group: string;
  req: Req;
  /** The largest operation list of `req` (what etcd counts against `--max-txn-ops`). */
  ops: number;
  /** Told once the transaction is settled in etcd (answered, failed, or never sent). */
  settled: (() => void) | undefined;
  resolve: (res: Res) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Epoch milliseconds, or undefined without `deadlineMs`. */
  deadline: number | undefined;
}

/**
 * Group commit for etcd transactions. A transaction is sent at once while fewer than
 * `maxInFlight` calls are out; otherwise it waits, and when a call comes back everything that
 * waited goes out together as ONE etcd transaction (each as a nested transaction), so under load
 * the service makes fewer, larger etcd calls instead of many small ones.
 *
 * Every transaction names its `group` (a slot's key prefix) and a batch holds at most ONE
 * transaction per group: the transactions of a batch then touch disjoint keys (a slot's keys all
 * live under its prefix, or, like a grant's quota ledger key, are named from one that does; a
 * session marker is only compared, never written), so running them as
 * one is the same as running them one after the other, and no two grants of one slot can share the
 * batch's revision (their fencing token). Further transactions of a group already in the batch
 * cannot be batched at all, so they are sent at once, each as its own call, as without group
 * commit: one busy slot (a release and the acquires queueing behind it) is never throttled.
 */
export class TxnBatcher<Req, Res> {
  private readonly queue: Pending<Req, Res>[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  constructor(
    private readonly limits: BatchLimits,
    /**
     * Sends the transactions as one etcd call, given each one's own deadline (epoch ms, when
     * set); answers one result per request, in order, or a {@link MemberFailed} for one that
     * failed on its own.
     */
    private readonly send: (
      reqs: Req[],
      deadlines: (number | undefined)[],
    ) => Promise<(Res | MemberFailed)[]>,
    private readonly hooks: BatchHooks<Req> = {},
  ) {}

  private observeBatch(size: number): void {
    this.hooks.observeBatch?.(size);
  }

  /** Transactions waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Runs `req` in the next batch. Aborting `signal` before the batch is sent takes it out (it is
   * never sent); after that, the caller stops waiting but the transaction may still be applied.
   * `settled` is told once etcd can no longer apply it (answered, failed, or dropped unsent),
   * even when the caller stopped waiting earlier.
   */
  submit(group: string, req: Req, signal?: AbortSignal, settled?: () => void): Promise<Res> {
    if (signal?.aborted === true) {
      settled?.();
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<Res>((resolve, reject) => {
      const item: Pending<Req, Res> = {
        group,
        req,
        ops: this.hooks.opsOf?.(req) ?? 1,
        settled,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        deadline:
          this.limits.deadlineMs === undefined ? undefined : Date.now() + this.limits.deadlineMs,
      };
      if (signal !== undefined) {
        item.onAbort = () => {
          const at = this.queue.indexOf(item);
          if (at >= 0) {
            this.queue.splice(at, 1);
            item.settled?.();
          }
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.queue.push(item);
      this.schedule();
    });
  }

  /** Sends once the current macrotask has queued what it will (a microtask later). */
  private schedule(): void {
    if (this.flushScheduled || this.inFlight >= this.limits.maxInFlight) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    this.dropExpired();
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const { batch, alone } = this.take();
      this.inFlight++;
      this.observeBatch(batch.length);
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.flush();
      });
      for (const item of alone) {
        this.observeBatch(1);
        void this.run([item]);
      }
    }
  }

  /** Fails, unsent, the waiting transactions whose deadline has passed. */
  private dropExpired(): void {
    const now = Date.now();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const item = this.queue[i] as Pending<Req, Res>;
      if (item.deadline === undefined || item.deadline > now) continue;
      this.queue.splice(i, 1);
      if (item.onAbort !== undefined) item.signal?.removeEventListener('abort', item.onAbort);
      item.settled?.();
      item.reject(this.hooks.expired?.() ?? new Error('deadline passed before sending'));
    }
  }

  /**
   * Takes the oldest waiting transaction of each group, up to `maxBatch` and within etcd's
   * operation limit, in submission order, as the batch; the later ones of those groups go `alone`.
   */
  private take(): { batch: Pending<Req, Res>[]; alone: Pending<Req, Res>[] } {
    const batch: Pending<Req, Res>[] = [];
    const alone: Pending<Req, Res>[] = [];
    const groups = new Set<string>();
    const rest: Pending<Req, Res>[] = [];
    const maxOps = this.limits.maxOps ?? Number.POSITIVE_INFINITY;
    let widest = 0;
    for (const item of this.queue) {
      if (groups.has(item.group)) alone.push(item);
      else if (
        batch.length === 0 ||
        (batch.length < this.limits.maxBatch &&
          batch.length + 1 + Math.max(widest, item.ops) <= maxOps)
      ) {
        groups.add(item.group);
        batch.push(item);
        widest = Math.max(widest, item.ops);
      } else rest.push(item);
    }
    this.queue.length = 0;
    this.queue.push(...rest);
    for (const item of [...batch, ...alone]) {
      if (item.onAbort !== undefined) item.signal?.removeEventListener('abort', item.onAbort);
    }
    return { batch, alone };
  }

  private async run(batch: Pending<Req, Res>[]): Promise<void> {
    const sent = this.send(
      batch.map(p => p.req),
      batch.map(p => p.deadline),
    );
    await Promise.all(
      batch.map(async (p, i) => {
        try {
          const own = p.deadline === undefined ? sent : this.byDeadline(sent, p.deadline);
          const result = (await abortable(own, p.signal))[i];
          if (result instanceof MemberFailed) p.reject(result.error);
          else p.resolve(result as Res);
        } catch (err) {
          p.reject(err);
        }
      }),
    );
    // The callers above may have stopped waiting; the call itself still has to end first.
    await sent.catch(() => undefined);
    for (const p of batch) p.settled?.();
  }

  /**
   * `sent`, or a failure at `deadline` if it is still out: each member waits only as long as its
   * own deadline, while the call carries the latest one (a member that waited long for its batch
   * does not shorten the others').
   */
  private byDeadline<T>(sent: Promise<T>, deadline: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          reject(this.hooks.late?.() ?? new Error('no answer within the deadline'));
        },
        Math.max(0, deadline - Date.now()),
      );
    });
    return Promise.race([sent, late]).finally(() => {
      clearTimeout(timer);
    });
  }
}
