/**
 * The unfenced shared resource of the fencing experiment: an HTTP key-value cell that accepts any
 * write, like a database row updated without a token check. It keeps the history of the writes it
 * applied, in apply order, which is what the experiment checks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResourceState } from './experiment-protocol.js';

/** One write the resource applied, in apply order. */
export interface AppliedWrite {
  /** Apply order (1, 2, ...); for fenced records, the etcd mod revision. */
  seq: string;
  writer: string;
  token: string;
  counter: number;
}

/** A running unfenced resource on a loopback port. */
export interface UnfencedResource {
  url: string;
  state(): ResourceState;
  history(): AppliedWrite[];
  close(): Promise<void>;
}

/** Starts the resource: `GET /state` reads it; `PUT /state` `{state, writer, token}` writes it. */
export async function startUnfencedResource(): Promise<UnfencedResource> {
  let state: ResourceState = { counter: 0, log: [] };
  const applied: AppliedWrite[] = [];
  const server: Server = createServer((req, res) => {
    void handle(req).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      },
      (err: unknown) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
      },
    );
  });

  async function handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (req.url !== '/state') return { status: 404, body: { error: 'no such path' } };
    if (req.method === 'GET') return { status: 200, body: state };
    if (req.method !== 'PUT') return { status: 405, body: { error: 'GET or PUT' } };
    const input = JSON.parse(await readBody(req)) as {
      state: ResourceState;
      writer: string;
      token: string;
    };
    // No fencing: whatever arrives last wins, however old the writer's lock is.
    state = input.state;
    const seq = String(applied.length + 1);
    applied.push({ seq, writer: input.writer, token: input.token, counter: state.counter });
    return { status: 200, body: { seq } };
  }

  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state: () => state,
    history: () => [...applied],
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
