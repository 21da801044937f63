/**
 * A small fetch wrapper shared by the slot, session and election clients: base URL, a per-call
 * timeout combined with the caller's signal, JSON in and out, and problem+json turned into
 * {@link SlotlockError}.
 */
import { resolveBaseUrl } from './base-url.js';
import { SlotlockError, type ProblemDetails } from './errors.js';

/** The `fetch` the client calls; injectable for proxies, auth headers or tests. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The caller's own credential (an API key or a JWT), sent as `Authorization: Bearer <credential>`.
 * A function is called before every request, so a short-lived token can be refreshed.
 */
export type Credential = string | (() => string | Promise<string>);

/** Options shared by every client: where the service is and how long one call may take. */
export interface HttpOptions {
  /**
   * Base URL of the service, e.g. `http://127.0.0.1:8080`; `SLOTLOCK_URL` from the environment
   * when absent. It must start with `http://` or `https://` (checked at construction).
   */
  url?: string;
  /** The caller's credential (API key or JWT), sent as `Authorization: Bearer`. */
  credential?: Credential;
  /** Per-call timeout in ms on top of any server-side wait (default 10 000). */
  timeoutMs?: number;
  /** Replaces the global `fetch`. */
  fetch?: FetchLike;
  /** Extra headers sent with every request (e.g. a gateway's auth). */
  headers?: Record<string, string>;
}

/** One call: body, headers, the caller's signal, and extra time for server-side long-polls. */
export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Time the server may legitimately hold the request (a long-poll), added to the timeout. */
  serverWaitMs?: number;
}

/** A decoded answer: status, headers and the parsed JSON body (undefined for 204). */
export interface HttpResult<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Headers carrying a holder secret (of a grant, session or leadership). It has its own header,
 * so that `Authorization` stays free for the caller's credential.
 */
export function secretHeader(secret: string): Record<string, string> {
  return { 'slotlock-secret': secret };
}

/** Percent-encodes one path segment (slot and election names may contain "/"). */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

/**
 * The transport. A call either resolves with a 2xx answer, throws a {@link SlotlockError}, or
 * throws the caller's `signal.reason` when the caller aborted.
 */
export class Http {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  private readonly fetchFn: FetchLike;
  private readonly headers: Record<string, string>;
  private readonly credential: Credential | undefined;

  constructor(opts: HttpOptions) {
    this.baseUrl = resolveBaseUrl(opts.url);
    this.credential = opts.credential;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.headers = opts.headers ?? {};
  }

  /** Sends `method path` and decodes the answer as JSON of type `T`. */
  async call<T>(method: string, path: string, opts: CallOptions = {}): Promise<HttpResult<T>> {
    const t = this.timer(method, path, opts);
    try {
      const res = await this.fetchOrFail(method, path, opts, t.signal);
      const text = await readText(res, method, path, opts.signal, t.signal);
      if (!res.ok) throw problemOf(res, text, method, path);
      return { status: res.status, headers: res.headers, body: parseJson(res, text) as T };
    } finally {
      t.clear();
    }
  }

  /**
   * Sends a request and returns the 2xx response with its body unread (for streams). The per-call
   * timeout covers only the time until the response headers arrive; `opts.signal` ends the stream.
   */
  async open(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
    const t = this.timer(method, path, opts);
    try {
      const res = await this.fetchOrFail(method, path, opts, t.signal);
      if (res.ok) return res;
      throw problemOf(res, await readText(res, method, path, opts.signal, t.signal), method, path);
    } finally {
      t.clear();
    }
  }

  private timer(method: string, path: string, opts: CallOptions) {
    const ms = this.timeoutMs + (opts.serverWaitMs ?? 0);
    const ctl = new AbortController();
    const handle = setTimeout(() => {
      ctl.abort(
        new SlotlockError({
          code: 'unreachable',
          status: 0,
          detail: `${method} ${path} got no complete answer within ${ms} ms`,
        }),
      );
    }, ms);
    return {
      signal: ctl.signal,
      clear: () => {
        clearTimeout(handle);
      },
    };
  }

  private async fetchOrFail(
    method: string,
    path: string,
    opts: CallOptions,
    timerSignal: AbortSignal,
  ): Promise<Response> {
    const signal =
      opts.signal === undefined ? timerSignal : AbortSignal.any([timerSignal, opts.signal]);
    const credential = await this.credentialHeader();
    try {
      return await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json, application/problem+json',
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...credential,
          ...this.headers,
          ...opts.headers,
        },
        body: opts.body === undefined ? null : JSON.stringify(opts.body),
        signal,
      });
    } catch (err) {
      throw failure(err, opts.signal, timerSignal, method, path);
    }
  }

  private async credentialHeader(): Promise<Record<string, string>> {
    if (this.credential === undefined) return {};
    if (typeof this.credential === 'string') return { authorization: `Bearer ${this.credential}` };
    try {
      return { authorization: `Bearer ${await this.credential()}` };
    } catch (cause) {
      throw new SlotlockError({
        code: 'credential_failed',
        status: 0,
        detail: 'the credential function failed',
        cause,
      });
    }
  }
}

async function readText(
  res: Response,
  method: string,
  path: string,
  callerSignal: AbortSignal | undefined,
  timerSignal: AbortSignal,
): Promise<string> {
  try {
    return await res.text();
  } catch (err) {
    throw failure(err, callerSignal, timerSignal, method, path);
  }
}

function parseJson(res: Response, text: string): unknown {
  if (res.status === 204 || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new SlotlockError({
      code: 'unexpected_response',
      status: res.status,
      detail: `the answer from ${res.url} is not JSON`,
      cause,
    });
  }
}

/** Maps a fetch rejection: the caller's abort wins, then our timeout, then a network error. */
function failure(
  err: unknown,
  callerSignal: AbortSignal | undefined,
  timerSignal: AbortSignal,
  method: string,
  path: string,
): unknown {
  if (callerSignal?.aborted === true) return callerSignal.reason;
  if (timerSignal.aborted) return timerSignal.reason;
  if (err instanceof SlotlockError) return err;
  const reason = err instanceof Error ? (causeMessage(err) ?? err.message) : String(err);
  return new SlotlockError({
    code: 'unreachable',
    status: 0,
    detail: `${method} ${path} failed: ${reason}`,
    cause: err,
  });
}

function causeMessage(err: Error): string | undefined {
  const cause: unknown = err.cause;
  if (cause instanceof Error) return `${err.message} (${cause.message})`;
  return undefined;
}

function problemOf(res: Response, text: string, method: string, path: string): SlotlockError {
  const headerRetry = retryAfterHeader(res.headers.get('retry-after'));
  const problem = parseProblem(text);
  if (problem === undefined) {
    return new SlotlockError({
      code: 'unexpected_response',
      status: res.status,
      detail: `${method} ${path} answered ${res.status} without a problem+json body: ${text.slice(0, 200)}`,
      retryAfterS: headerRetry,
    });
  }
  return new SlotlockError({
    code: problem.code,
    status: res.status,
    detail: problem.detail,
    retryAfterS: headerRetry ?? problem.retryAfterSeconds,
    problem,
  });
}

function parseProblem(text: string): ProblemDetails | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) return undefined;
    const p = body as Partial<ProblemDetails>;
    if (typeof p.code !== 'string' || typeof p.detail !== 'string') return undefined;
    return p as ProblemDetails;
  } catch {
    return undefined;
  }
}

/** `Retry-After` as seconds (delta-seconds or an HTTP date), or undefined. */
function retryAfterHeader(raw: string | null): number | undefined {
  if (raw === null) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
