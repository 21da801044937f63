/**
 * HTTP to two (or more) slotlock replicas with failover, recording every request as an
 * {@link OpRecord}: a connection error, timeout or 503 moves the next request to the next replica.
 */
import { appendJsonLine, nowMs, type OpKind, type OpRecord } from './records.js';

export interface Request {
  kind: OpKind;
  space: 'slot' | 'election';
  name: string;
  capacity: number;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  secret?: string | undefined;
  /** Sent as Idempotency-Key (a retry of an acquire whose outcome was unknown reuses it). */
  idempotencyKey?: string | undefined;
  timeoutMs: number;
  /** Fields known before the request (token used, key, record, value written). */
  fields?: Partial<OpRecord>;
  /** A sequence number taken earlier with {@link ReplicaClient.nextSeq} (to name a written value). */
  seq?: number;
  /** Use this replica index instead of the current one. */
  replica?: number;
  /** Fields learnt from a 2xx body (token, key, expiresInMs, revision), added before recording. */
  annotate?: (body: any) => Partial<OpRecord>;
}

export interface Response {
  rec: OpRecord;
  body: any;
}

export class ReplicaClient {
  private current: number;
  private seq = 0;

  constructor(
    private readonly urls: readonly string[],
    readonly proc: string,
    private readonly historyFile: string,
    first = 0,
  ) {
    this.current = first % urls.length;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  async send(req: Request): Promise<Response> {
    const seq = req.seq ?? this.nextSeq();
    const index = req.replica ?? this.current;
    const base = this.urls[index] ?? '';
    const headers: Record<string, string> = {};
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (req.secret !== undefined) headers['slotlock-secret'] = req.secret;
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    const invoke = nowMs();
    let status = 0;
    let body: any;
    try {
      const res = await fetch(`${base}${req.path}`, {
        method: req.method,
        headers,
        body: req.body === undefined ? null : JSON.stringify(req.body),
        signal: AbortSignal.timeout(req.timeoutMs),
      });
      status = res.status;
      const text = await res.text();
      body = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      body = { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
    const complete = nowMs();
    if (status === 0 || status === 503) this.current = (index + 1) % this.urls.length;
    const rec: OpRecord = {
      proc: this.proc,
      seq,
      kind: req.kind,
      space: req.space,
      name: req.name,
      capacity: req.capacity,
      replica: `s${index + 1}`,
      invoke,
      complete,
      status,
      outcome:
        status >= 200 && status < 300 ? 'ok' : status >= 400 && status < 500 ? 'fail' : 'info',
      ...(typeof body?.code === 'string' ? { code: body.code } : {}),
      ...(status === 0 || status >= 500
        ? { detail: String(body?.detail ?? body?.error ?? '').slice(0, 300) }
        : {}),
      ...req.fields,
      ...(status >= 200 && status < 300 && req.annotate !== undefined ? req.annotate(body) : {}),
    };
    appendJsonLine(this.historyFile, rec);
    return { rec, body };
  }
}
