/** Runs `src/main.ts` as a real child process, the way a user starts the service. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { freePort } from '../../src/embedded-etcd/index.js';

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  /** The parsed "listening" log line. */
  started: Record<string, unknown>;
  stderr: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM and wait (SIGKILL after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

/** Starts the service with `env` and resolves once it logged that it listens (or rejects). */
export async function startServiceProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServiceProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>(resolve =>
    child.once('exit', code => {
      resolve(code);
    }),
  );
  const lines = createInterface({ input: child.stdout });
  const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    lines.on('line', line => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.msg === 'string' && parsed.msg.startsWith('slotlock listening')) {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then(code => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening: ${err}`));
    });
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    started,
    stderr: () => err,
    exited,
    stop: async (ms = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
