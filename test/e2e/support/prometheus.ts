/** A throwaway Prometheus server on loopback: temp config, temp TSDB, stopped by pid. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, startDaemon, type Daemon } from './processes.js';

export const RULES_FILE = join(repoRoot, 'deploy/prometheus/slotlock.rules.yaml');

/** One sample of an instant vector: labels and value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
  /** Prometheus time of the sample, in seconds. */
  at: number;
}

export interface Prometheus {
  url: string;
  pid: number;
  /** An instant query; throws on a Prometheus error. */
  query(promql: string): Promise<Sample[]>;
  /** The server's log so far (for failure messages). */
  log(): Promise<string>;
  /** Stops the server by pid and removes its config and TSDB. */
  stop(): Promise<void>;
}

/**
 * Starts `binary` with `scrape_interval` and `evaluation_interval` of 1 s, the job `slotlock`
 * scraping `target` (host:port), and the repo's rule file; resolves once /-/ready answers.
 */
export async function startPrometheus(binary: string, target: string): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'slotlock-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    `  - ${JSON.stringify(RULES_FILE)}`,
    'scrape_configs:',
    '  - job_name: slotlock',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: [${JSON.stringify(target)}]`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const logFile = join(dir, 'prometheus.log');
  const daemon: Daemon = startDaemon(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    logFile,
  );
  const url = `http://127.0.0.1:${port}`;
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const stop = async () => {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, daemon);
  } catch (err) {
    const text = await log();
    await stop();
    throw new Error(`${(err as Error).message}\nprometheus log:\n${text.slice(-2000)}`, {
      cause: err,
    });
  }
  return { url, pid: daemon.pid, query: q => query(url, q), log, stop };
}

async function waitReady(url: string, daemon: Daemon): Promise<void> {
  const state = { exited: false };
  void daemon.exited.then(() => {
    state.exited = true;
  });
  const deadline = performance.now() + 20_000;
  for (;;) {
    if (state.exited) throw new Error('prometheus exited during start');
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error('prometheus was not ready within 20 s');
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

async function query(url: string, promql: string): Promise<Sample[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: {
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    };
  };
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
  }
  if (body.data.resultType !== 'vector') throw new Error(`query ${promql} is not a vector`);
  return body.data.result.map(r => ({
    metric: r.metric,
    value: Number(r.value[1]),
    at: r.value[0],
  }));
}
