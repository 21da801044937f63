/**
 * Elections: failover after the leader's process is SIGKILLed (a waiting candidate takes over once
 * the dead leader's lease expires), and handover after a clean resign.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpJson, booleanField, expectStatus, stringField } from './http-client.js';
import { cleanEnv, spawnChild, type Child } from './procs.js';
import { summarize, type Summary } from './stats.js';

interface Worker extends Child {
  /** Resolves with the arrival time (performance.now()) of the first stdout line starting with `prefix`. */
  waitFor(prefix: string, timeoutMs: number): Promise<number>;
}

function spawnWorker(
  url: string,
  dir: string,
  election: string,
  index: number,
  ttlS: number,
): Worker {
  const child = spawnChild(
    `election-worker-${index}`,
    process.execPath,
    ['--import', 'tsx', 'bench/election-worker.ts'],
    {
      logFile: join(dir, 'election-workers.log'),
      pipeStdout: true,
      env: cleanEnv({
        WORKER_URL: url,
        WORKER_ELECTION: election,
        WORKER_CANDIDATE: `worker-${index}`,
        WORKER_TTL_S: String(ttlS),
        WORKER_WAIT_MS: '15000',
        WORKER_LIFETIME_MS: '60000',
      }),
    },
  );
  const seen: { line: string; at: number }[] = [];
  const listeners = new Set<() => void>();
  let buffer = '';
  child.process.stdout?.on('data', (chunk: Buffer) => {
    const at = performance.now();
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      seen.push({ line: buffer.slice(0, nl), at });
      buffer = buffer.slice(nl + 1);
    }
    for (const l of listeners) l();
  });
  const waitFor = (prefix: string, timeoutMs: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = seen.find(s => s.line.startsWith(prefix));
        const failed = seen.find(s => s.line.startsWith('FAILED'));
        if (hit === undefined && failed === undefined) return false;
        clearTimeout(timer);
        listeners.delete(onLine);
        if (hit !== undefined) resolve(hit.at);
        else reject(new Error(`worker ${index}: ${failed?.line ?? ''}`));
        return true;
      };
      const onLine = () => {
        check();
      };
      const timer = setTimeout(() => {
        listeners.delete(onLine);
        reject(new Error(`worker ${index} did not print ${prefix} within ${timeoutMs} ms`));
      }, timeoutMs);
      if (!check()) listeners.add(onLine);
    });
  return { ...child, waitFor };
}

export interface FailoverResult {
  ttlS: number;
  samplesMs: number[];
  summary: Summary;
}

/**
 * `iterations` times: a leader worker runs, a second worker waits in its campaign, the leader is
 * SIGKILLed at a random point of its keepalive cycle; measured from the kill to the waiting
 * worker's `LEADING` line.
 */
export async function failoverAfterKill(
  url: string,
  o: { iterations: number; ttlS: number; dir: string; tag: string },
): Promise<FailoverResult> {
  const election = `${o.tag}-failover`;
  const workers: Worker[] = [];
  const samplesMs: number[] = [];
  try {
    let leader = spawnWorker(url, o.dir, election, 0, o.ttlS);
    workers.push(leader);
    await leader.waitFor('LEADING', 30_000);
    for (let i = 1; i <= o.iterations; i++) {
      const next = spawnWorker(url, o.dir, election, i, o.ttlS);
      workers.push(next);
      await next.waitFor('CAMPAIGNING', 30_000);
      // Time to reach the server and queue, and a random phase against the leader's keepalives.
      await sleep(400 + Math.random() * 800);
      const killedAt = performance.now();
      process.kill(leader.pid, 'SIGKILL');
      const ledAt = await next.waitFor('LEADING', o.ttlS * 1000 + 15_000);
      samplesMs.push(ledAt - killedAt);
      await leader.exited;
      leader = next;
    }
  } finally {
    await Promise.all(workers.map(w => w.stop({ graceMs: 2000, signal: 'SIGKILL' })));
  }
  return { ttlS: o.ttlS, samplesMs, summary: summarize(samplesMs) };
}

interface Term {
  token: string;
  secret: string;
  waited: boolean;
}

async function campaign(
  http: HttpJson,
  election: string,
  candidate: string,
  waitMs: number,
): Promise<Term> {
  const res = await http.request('POST', `/v1/elections/${election}/campaign`, {
    body: { candidate, ttlSeconds: 10, waitMs },
    timeoutMs: waitMs + 10_000,
  });
  expectStatus(res, 201, 'campaign');
  return {
    token: stringField(res.body, 'token'),
    secret: stringField(res.body, 'secret'),
    waited: booleanField(res.body, 'waited'),
  };
}

export interface ResignResult {
  samplesMs: number[];
  /** Rounds where the next candidate had not queued before the resign (not counted). */
  notQueued: number;
  summary: Summary;
}

/**
 * The leader resigns while another candidate waits: measured from sending the resign to the
 * waiting candidate's 201. Roles alternate for `iterations` rounds.
 */
export async function handoverAfterResign(
  url: string,
  o: { iterations: number; tag: string },
): Promise<ResignResult> {
  const http = new HttpJson(url, 4);
  const election = `${o.tag}-resign`;
  const samplesMs: number[] = [];
  let notQueued = 0;
  let current: Term | undefined;
  try {
    current = await campaign(http, election, 'candidate-0', 0);
    for (let i = 1; i <= o.iterations; i++) {
      const leader: Term = current;
      const nextP = campaign(http, election, `candidate-${i % 2}`, 10_000);
      nextP.catch(() => undefined); // awaited below; this only keeps an early failure handled
      await sleep(100);
      const sentAt = performance.now();
      const resigned = http.request('DELETE', `/v1/elections/${election}/leaders/${leader.token}`, {
        bearer: leader.secret,
      });
      resigned.catch(() => undefined);
      const next = await nextP;
      const ledAt = performance.now();
      expectStatus(await resigned, 204, 'resign');
      current = next;
      if (next.waited) samplesMs.push(ledAt - sentAt);
      else notQueued++;
    }
  } finally {
    if (current !== undefined) {
      await http
        .request('DELETE', `/v1/elections/${election}/leaders/${current.token}`, {
          bearer: current.secret,
        })
        .catch(() => undefined);
    }
    http.close();
  }
  return { samplesMs, notQueued, summary: summarize(samplesMs) };
}
