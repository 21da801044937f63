/**
 * Measures a slotlock replica's resident memory while it holds N grants (default 10 000), to size
 * the Kubernetes memory request and limit. Starts its own etcd member and one service process
 * (run through tsx, which adds its own few MB, so the number errs high), makes N grants on N slots
 * with 300 s leases, 64 at a time, scrapes /metrics and /v1/status once, and reports RSS and peak
 * RSS (VmHWM) from /proc. Stops both processes it started, also on failure; bounded to 5 min.
 * Run: npx tsx scripts/measure-rss.ts [grants]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startEtcdMember } from '../src/embedded-etcd/index.js';

const grants = Number(process.argv[2] ?? 10_000);
const repo = fileURLToPath(new URL('..', import.meta.url));
const deadline = AbortSignal.timeout(300_000);

async function memoryOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check().catch(() => false))) {
    deadline.throwIfAborted();
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

const dir = await mkdtemp(join(tmpdir(), 'slotlock-rss-'));
const member = await startEtcdMember({ name: 'rss', dataDir: join(dir, 'etcd') });
const port = await freePort();
const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: repo,
  env: {
    ...process.env,
    ETCD_ENDPOINTS: member.clientUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TTL_MAX_S: '600',
    NODE_ENV: 'production',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
try {
  const pid = child.pid ?? 0;
  await until(async () => (await fetch(`${base}/readyz`)).ok);
  const idle = await memoryOf(pid);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < grants; i = next++) {
      deadline.throwIfAborted();
      const res = await fetch(`${base}/v1/slots/rss-${i}/grants`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ holder: `h-${i}`, ttlSeconds: 300 }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 201) throw new Error(`grant ${i}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: 64 }, worker));
  const grantS = (performance.now() - started) / 1000;
  await (await fetch(`${base}/metrics`)).text();
  await (await fetch(`${base}/v1/status`)).text();
  const held = await memoryOf(pid);
  console.log(
    JSON.stringify({
      grants,
      grantSeconds: Number(grantS.toFixed(1)),
      idleRssMiB: Math.round(idle.rssMiB),
      heldRssMiB: Math.round(held.rssMiB),
      peakRssMiB: Math.round(held.peakMiB),
    }),
  );
} finally {
  child.kill('SIGTERM');
  await new Promise(resolve => {
    if (child.exitCode !== null) resolve(undefined);
    else child.once('exit', resolve);
  });
  await member.stop();
  await rm(dir, { recursive: true, force: true });
}
