/**
 * One line for an operator when the HTTP server cannot listen, naming the variable to change
 * (`PORT` or `HOST`) instead of a raw `EADDRINUSE` stack.
 */
export function describeListenError(err: unknown, port: number, host: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use: set PORT to a free port (or stop the process listening there)`;
    case 'EACCES':
      return `no permission to listen on port ${port}: set PORT to a port above 1023 (or run with the right to bind it)`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine: set HOST to one of its addresses (or 0.0.0.0)`;
    default:
      return `cannot listen on ${host}:${port} (PORT, HOST): ${err instanceof Error ? err.message : String(err)}`;
  }
}
