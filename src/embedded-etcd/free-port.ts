/** Free loopback ports for the etcd members and services that tests and the embedded default start. */
import { createServer, type AddressInfo, type Server } from 'node:net';

export async function listenOnFreePorts(count: number, host: string): Promise<number[]> {
  const servers: Server[] = [];
  try {
    // All listeners stay open until every port is read, so the ports are distinct.
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
      });
    }
    return servers.map(server => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map(s => new Promise(resolve => s.close(resolve))));
  }
}

/** A TCP port that was free on `host` a moment ago (listen on port 0, read it, close). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await listenOnFreePorts(1, host);
  if (port === undefined) throw new Error('no free port found');
  return port;
}
