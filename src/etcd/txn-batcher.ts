import { abortable } from './abortable.js';

/** How many transactions one etcd call may carry, and how many such calls may be in flight. */
export interface BatchLimits {
  /** Most transactions in one etcd call (1 turns batching off). */
  maxBatch: number;
  /** Calls in flight before new transactions queue up for the next batch. */
  maxInFlight: number;
  /**
   * Each transaction's deadline, counted from its submission: waiting for a batch counts against
   * it, a batch is sent with the earliest deadline of its transactions, and one whose deadline
   * passed while it waited is failed without being sent. Undefined: the client's own deadline.
   */
  deadlineMs?: number | undefined;
}

interface Pending<Req, Res> {
  group: string;
  req: Req;
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
 * live under its prefix; a session marker is only compared, never written), so running them as
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
     * Sends the transactions as one etcd call, with `deadline` (epoch ms) when the batch has one;
     * answers one result per request, in order.
     */
    private readonly send: (reqs: Req[], deadline: number | undefined) => Promise<Res[]>,
    /** Told the size of every batch sent. */
    private readonly observeBatch: (size: number) => void = () => undefined,
    /** The error of a transaction whose deadline passed before it could be sent. */
    private readonly expired: () => Error = () => new Error('deadline passed before sending'),
  ) {}

  /** Transactions waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Runs `req` in the next batch. Aborting `signal` before the batch is sent takes it out (it is
   * never sent); after that, the caller stops waiting but the transaction may still be applied.
   */
  submit(group: string, req: Req, signal?: AbortSignal): Promise<Res> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    return new Promise<Res>((resolve, reject) => {
      const item: Pending<Req, Res> = {
        group,
        req,
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
          if (at >= 0) this.queue.splice(at, 1);
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
      item.reject(this.expired());
    }
  }

  /**
   * Takes the oldest waiting transaction of each group, up to `maxBatch`, in submission order, as
   * the batch; the later ones of those groups go `alone`.
   */
  private take(): { batch: Pending<Req, Res>[]; alone: Pending<Req, Res>[] } {
    const batch: Pending<Req, Res>[] = [];
    const alone: Pending<Req, Res>[] = [];
    const groups = new Set<string>();
    const rest: Pending<Req, Res>[] = [];
    for (const item of this.queue) {
      if (groups.has(item.group)) alone.push(item);
      else if (batch.length < this.limits.maxBatch) {
        groups.add(item.group);
        batch.push(item);
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
    let deadline: number | undefined;
    for (const p of batch) {
      if (p.deadline !== undefined && (deadline === undefined || p.deadline < deadline)) {
        deadline = p.deadline;
      }
    }
    const sent = this.send(
      batch.map(p => p.req),
      deadline,
    );
    await Promise.all(
      batch.map(async (p, i) => {
        try {
          const results = await abortable(sent, p.signal);
          p.resolve(results[i] as Res);
        } catch (err) {
          p.reject(err);
        }
      }),
    );
    // The callers above may have stopped waiting; the call itself still has to end first.
    await sent.catch(() => undefined);
  }
}
