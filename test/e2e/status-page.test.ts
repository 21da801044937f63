/**
 * The status page in a real headless Chromium: the DOM it builds from /v1/status shows a held
 * slot, its holder, the waiting count, an election leader and every SLO row, with holder labels
 * as text. Also writes a screenshot to bench/results/status-page.png for a person to look at.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusPageScript } from '../../src/http/status-page/script.js';
import { statusReportSchema } from '../../src/http/status-page/openapi.js';
import { call, startTestService, type TestService } from '../support/app.js';
import { installTool, repoRoot, runToEnd } from './support/processes.js';

const SLOT = 'e2e/zone-north:driver-7';
const SLOT_PATH = encodeURIComponent(SLOT);
const HOLDER = 'dispatcher-7';
const WAITER = 'dispatcher-8';
const HOSTILE = '<img src=x onerror=alert(1)>';
const ELECTION = 'batch-dispatcher';
const LEADER = 'worker-a';
const SLI_IDS = [
  'acquire_p95',
  'contention',
  'election_p95',
  'etcd_txn_p95',
  'availability',
  'stale_tokens',
];

describe('status page in headless Chromium', () => {
  let chromium: string;
  let svc: TestService;
  let profile: string;
  const waiterAbort = new AbortController();
  let waiter: Promise<unknown> | undefined;

  beforeAll(async () => {
    // Installing chromium the first time takes about a minute; a missing browser fails here.
    chromium = await installTool('install-chromium.sh', 'Chromium');
    profile = await mkdtemp(join(tmpdir(), 'slotlock-chromium-'));
    svc = await startTestService();
    const held = await call(svc.url, 'POST', `/v1/slots/${SLOT_PATH}/grants`, {
      body: { holder: HOLDER, ttlSeconds: 60 },
    });
    expect(held.status).toBe(201);
    const busy = await call(svc.url, 'POST', `/v1/slots/${SLOT_PATH}/grants`, {
      body: { holder: 'dispatcher-9', ttlSeconds: 60 },
    });
    expect(busy.status).toBe(409);
    const hostile = await call(svc.url, 'POST', '/v1/slots/e2e:escape/grants', {
      body: { holder: HOSTILE, ttlSeconds: 60, capacity: 2 },
    });
    expect(hostile.status).toBe(201);
    waiter = call(svc.url, 'POST', `/v1/slots/${SLOT_PATH}/grants`, {
      body: { holder: WAITER, ttlSeconds: 60, waitMs: 25_000 },
      signal: waiterAbort.signal,
    }).catch(() => undefined);
    const elected = await call(svc.url, 'POST', `/v1/elections/${ELECTION}/campaign`, {
      body: { candidate: LEADER, value: '10.0.0.7:9000', ttlSeconds: 60 },
    });
    expect(elected.status).toBe(201);
    await until(async () => {
      const view = await call(svc.url, 'GET', `/v1/slots/${SLOT_PATH}`);
      return view.body.waiting === 1;
    });
  }, 300_000);

  afterAll(async () => {
    waiterAbort.abort();
    await waiter;
    await (svc as TestService | undefined)?.close();
    if ((profile as string | undefined) !== undefined) {
      await rm(profile, { recursive: true, force: true });
    }
  });

  it('answers /v1/status with the slot, its holders and waiters, the leader and the SLIs', async () => {
    const r = await call(svc.url, 'GET', '/v1/status');
    expect(r.status).toBe(200);
    const report = statusReportSchema.parse(r.body);
    const slot = report.slots?.items.find(s => s.slot === SLOT);
    expect(slot).toMatchObject({ capacity: 1, waiting: 1, holders: [{ holder: HOLDER }] });
    const election = report.elections?.items.find(e => e.election === ELECTION);
    expect(election?.leader?.candidate).toBe(LEADER);
    expect(report.slis.slis.map(s => s.id)).toEqual(SLI_IDS);
    const contention = report.slis.slis.find(s => s.id === 'contention');
    // Three try acquires (two granted, one busy) and a waiter still queued.
    expect(contention?.sinceStart).toBeCloseTo(1 / 3, 5);
  });

  it('renders the slot, holder, waiting count, leader and SLO rows, with labels as text', async () => {
    const dom = await runChromium(['--virtual-time-budget=5000', '--dump-dom']);
    expect(Number(/data-polls="(\d+)"/.exec(dom)?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
    expect(dom).toContain('data-state="live"');
    const row = rowOf(dom, `data-slot="${SLOT}"`);
    expect(row).toContain(`<span class="holder">${HOLDER}</span>`);
    expect(row).toContain('data-waiting="1"');
    expect(rowOf(dom, `data-election="${ELECTION}"`)).toContain(`data-leader="${LEADER}"`);
    for (const id of SLI_IDS) expect(dom).toContain(`data-sli="${id}"`);
    expect(rowOf(dom, 'data-sli="acquire_p95"')).toContain('≤ 100 ms');
    expect(rowOf(dom, 'data-sli="availability"')).toContain('≥ 99.9 %');
    expect(rowOf(dom, 'data-sli="contention"')).toContain('33.3 %');
    // The hostile label arrives as text: escaped in the serialised DOM, never an element.
    expect(dom).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(dom).not.toMatch(/<img\b/i);
    expect(dom).toMatch(/in-process approximations/i);
  });

  it('builds the page without innerHTML or other HTML parsing', () => {
    expect(statusPageScript).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('takes a 1280x900 screenshot into bench/results', async () => {
    const dir = join(repoRoot, 'bench/results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'status-page.png');
    await rm(file, { force: true });
    await runChromium([
      '--virtual-time-budget=5000',
      '--hide-scrollbars',
      '--window-size=1280,900',
      `--screenshot=${file}`,
    ]);
    expect((await stat(file)).size).toBeGreaterThan(10_000);
    const png = await readFile(file);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 900]);
  });

  async function runChromium(extra: string[]): Promise<string> {
    const run = await runToEnd(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        ...extra,
        `${svc.url}/`,
      ],
      { timeoutMs: 25_000 },
    );
    if (run.code !== 0 || run.timedOut) {
      throw new Error(
        `chromium failed (code ${String(run.code)}, timed out: ${run.timedOut}):\n` +
          run.stderr.split('\n').slice(-20).join('\n'),
      );
    }
    return run.stdout;
  }
});

/** The `<tr ...>...</tr>` of the serialised DOM whose start tag contains `attr`. */
function rowOf(dom: string, attr: string): string {
  const start = dom.indexOf(`<tr ${attr}`);
  expect(start, `no row with ${attr}`).toBeGreaterThanOrEqual(0);
  return dom.slice(start, dom.indexOf('</tr>', start) + 5);
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}
