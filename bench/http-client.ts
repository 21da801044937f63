/**
 * The load generator's HTTP client: node:http over a keep-alive agent (cheaper per request than
 * fetch, so the generator takes less of the 2 cores it shares with the service and etcd).
 */
import { Agent, request, type OutgoingHttpHeaders } from 'node:http';

/**
 * Kept-alive sockets idle this long are closed by the client, before a server's 5 s keep-alive
 * timeout could close one under a new request (subjects idle while others take their round).
 */
export const IDLE_SOCKET_MS = 3000;

export interface HttpResult {
  status: number;
  body: unknown;
}

export interface RequestOptions {
  body?: unknown;
  bearer?: string;
  /** Default 30 s; the socket is destroyed after it. */
  timeoutMs?: number;
}

/** JSON requests to one loopback origin over a pool of at most `maxSockets` kept-alive sockets. */
export class HttpJson {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  /** `idleSocketMs`: a kept-alive socket left unused this long is closed (by the agent). */
  constructor(base: string, maxSockets: number, idleSocketMs?: number) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      // The agent destroys only FREE sockets on this timeout; requests in flight are untouched.
      ...(idleSocketMs === undefined ? {} : { timeout: idleSocketMs }),
    });
  }

  request(method: string, path: string, o: RequestOptions = {}): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
      const headers: OutgoingHttpHeaders = {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      if (o.bearer !== undefined) headers['slotlock-secret'] = o.bearer;
      const req = request(
        { host: this.host, port: this.port, method, path, agent: this.agent, headers },
        res => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: parseBody(Buffer.concat(chunks)) });
          });
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new Error(`${method} ${path} timed out after ${o.timeoutMs ?? 30_000} ms`));
      }, o.timeoutMs ?? 30_000);
      req.on('error', err => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  }

  /** Closes every socket; requests still in flight fail (the server sees the client leave). */
  close(): void {
    this.agent.destroy();
  }
}

function parseBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Throws unless the response has `status`, naming what came back instead. */
export function expectStatus(res: HttpResult, status: number, what: string): void {
  if (res.status !== status) {
    const detail = show(res.body);
    throw new Error(`${what}: HTTP ${res.status} (expected ${status}) ${detail}`);
  }
}

/** The string field `name` of a JSON object body, or an error naming the body. */
export function stringField(body: unknown, name: string): string {
  if (typeof body === 'object' && body !== null && name in body) {
    const value = (body as Record<string, unknown>)[name];
    if (typeof value === 'string') return value;
  }
  throw new Error(`expected a string "${name}" in ${show(body)}`);
}

/** The boolean field `name` of a JSON object body (false when absent). */
export function booleanField(body: unknown, name: string): boolean {
  if (typeof body === 'object' && body !== null && name in body) {
    return (body as Record<string, unknown>)[name] === true;
  }
  return false;
}

/** A short rendering of a body for error messages (JSON.stringify(undefined) is undefined). */
function show(body: unknown): string {
  const text = JSON.stringify(body) as string | undefined;
  return (text ?? 'no body').slice(0, 300);
}
