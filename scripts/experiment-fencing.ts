/**
 * `npm run experiment:fencing`: the experiment the design notes ask for. Worker processes compete
 * for one slot (TTL 2 s) and read-modify-write a shared counter + log; one holder is SIGSTOPped
 * between its read and its write until another worker has been granted the slot and has written.
 * Run once without fencing (the resource takes any write) and once with fencing (writes go through
 * slotlock's fenced store with the grant's token). Prints a table, writes
 * bench/results/fencing-experiment.json, and exits 1 unless the unfenced run shows a stale write
 * and the fenced run shows none.
 *
 * Options: --workers N (3) --pauses N (3) --between N (3 writes between pauses) --ttl S (2)
 * --timeout-ms N (180000) --out FILE. Uses ETCD_ENDPOINTS when set, else starts its own etcd.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runMode, type RunOptions } from './experiment-fencing-run.js';
import { formatTable, report } from './experiment-report.js';
import { experimentEtcd, startSlotlock } from './experiment-slotlock.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '3' },
    pauses: { type: 'string', default: '3' },
    between: { type: 'string', default: '3' },
    ttl: { type: 'string', default: '2' },
    'timeout-ms': { type: 'string', default: '180000' },
    out: { type: 'string', default: 'bench/results/fencing-experiment.json' },
  },
});

function int(name: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
  return n;
}

async function main(): Promise<number> {
  const workers = int('workers', values.workers, 2);
  const pauses = int('pauses', values.pauses, 1);
  const between = int('between', values.between, 1);
  const ttlS = int('ttl', values.ttl, 2);
  const timeoutMs = int('timeout-ms', values['timeout-ms'], 1000);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  // A last resort if something hangs outside the deadline-aware code; the exit hooks kill
  // every worker and etcd we started.
  setTimeout(() => {
    log(`experiment: hard timeout after ${timeoutMs + 15_000} ms`);
    process.exit(2);
  }, timeoutMs + 15_000).unref();
  const signal = AbortSignal.timeout(timeoutMs);

  const etcd = await experimentEtcd(log);
  let results;
  try {
    const slotlock = await startSlotlock(etcd.endpoints);
    try {
      const base: Omit<RunOptions, 'mode' | 'slot'> = {
        slotlockUrl: slotlock.url,
        etcd: slotlock.client,
        store: slotlock.services.store,
        keys: slotlock.services.keys,
        workers,
        pauses,
        ttlS,
        writesBetweenPauses: between,
        signal,
        log,
      };
      const id = randomBytes(3).toString('hex');
      log(`run 1: without fencing (${workers} workers, ${pauses} pauses, TTL ${ttlS} s)`);
      const unfenced = await runMode({ ...base, mode: 'unfenced', slot: `exp-${id}/unfenced` });
      log(`run 2: with fencing`);
      const fenced = await runMode({ ...base, mode: 'fenced', slot: `exp-${id}/fenced` });
      results = report(unfenced, fenced, { ttlS, pauses });
    } finally {
      await slotlock.close();
    }
  } finally {
    await etcd.stop();
  }
  const out = resolve(values.out);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${formatTable(results)}\nresult: ${out}\n`);
  return results.ok ? 0 : 1;
}

main().then(
  code => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`experiment failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  },
);
