/**
 * The status page in a real headless Chromium: the DOM it builds from /v1/status shows a held
 * slot, its holder, the waiting count, an election leader and every SLO row, with holder labels
 * as text, the replica id and version, and no table cell whose content spills out of it at 1280
 * or 760 px. During an etcd outage the badge says "degraded", the banner says so in words (no
 * internal error text) and the SLIs stay on the page. Screenshots for a person to look at:
 * bench/results/status-page.png (1280 px), status-page-760.png, status-page-outage.png.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusPageScript } from '../../src/http/status-page/script.js';
import { statusReportSchema } from '../../src/http/status-page/openapi.js';
import { startEtcdMember, type EtcdMember } from '../../src/embedded-etcd/index.js';
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
    expect(dom).toMatch(/<span id="replica"[^>]*>replica \S+ · v\d+\.\d+\.\d+/);
    expect(dom).toMatch(/recent = the last \d+ s, up to 300 s/);
    expect(dom).toContain('data-spilling="0"');
  });

  it('lays the page out at 760 px without a cell spilling over, and screenshots it', async () => {
    const dom = await runChromium([
      '--virtual-time-budget=5000',
      '--window-size=760,1400',
      '--dump-dom',
    ]);
    expect(dom).toContain('data-state="live"');
    expect(dom).toContain('data-spilling="0"');
    await screenshot(runChromium, 'status-page-760.png', 760, 1400);
  });

  it('builds the page without innerHTML or other HTML parsing', () => {
    expect(statusPageScript).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('takes a 1280x900 screenshot into bench/results', async () => {
    await screenshot(runChromium, 'status-page.png', 1280, 900);
  });

  function runChromium(extra: string[]): Promise<string> {
    return chromiumRun(chromium, profile, svc.url, extra);
  }
});

describe('status page in headless Chromium during an etcd outage', () => {
  let chromium: string;
  let profile: string;
  let dir: string;
  let member: EtcdMember;
  let svc: TestService;

  beforeAll(async () => {
    chromium = await installTool('install-chromium.sh', 'Chromium');
    profile = await mkdtemp(join(tmpdir(), 'slotlock-chromium-'));
    dir = await mkdtemp(join(tmpdir(), 'slotlock-status-outage-'));
    member = await startEtcdMember({ name: 'status-outage', dataDir: join(dir, 'etcd') });
    svc = await startTestService(
      { ETCD_CALL_TIMEOUT_MS: '500', READINESS_TIMEOUT_MS: '300' },
      { endpoints: [member.clientUrl] },
    );
    const held = await call(svc.url, 'POST', '/v1/slots/outage-slot/grants', {
      body: { holder: HOLDER, ttlSeconds: 60 },
    });
    expect(held.status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    (member as EtcdMember | undefined)?.resume();
    await (svc as TestService | undefined)?.close();
    await (member as EtcdMember | undefined)?.stop();
    for (const d of [profile as string | undefined, dir as string | undefined]) {
      if (d !== undefined) await rm(d, { recursive: true, force: true });
    }
  });

  it('says degraded in words, keeps the SLIs, and shows no internal error text', async () => {
    await member.pause();
    try {
      const dom = await chromiumRun(chromium, profile, svc.url, [
        '--virtual-time-budget=5000',
        '--dump-dom',
      ]);
      expect(dom).toContain('id="conn" class="pill" data-state="degraded"');
      expect(dom).not.toContain('data-state="live"');
      const banner = /<p id="banner"[^>]*>([^<]*)<\/p>/.exec(dom)?.[1] ?? '';
      expect(banner).toMatch(/^etcd is unreachable from this replica/);
      expect(banner).not.toMatch(/breaker|circuit|deadline|grpc|ECONN|Error/i);
      for (const id of SLI_IDS) expect(dom).toContain(`data-sli="${id}"`);
      expect(dom).toContain('unavailable: etcd is unreachable');
      expect(dom).toContain('data-spilling="0"');
      await screenshot(
        (extra: string[]) => chromiumRun(chromium, profile, svc.url, extra),
        'status-page-outage.png',
        1280,
        900,
      );
    } finally {
      member.resume();
    }
  });
});

/** Writes a `width`x`height` screenshot of the page to bench/results/`name` and checks it. */
async function screenshot(
  run: (extra: string[]) => Promise<string>,
  name: string,
  width: number,
  height: number,
): Promise<void> {
  const dir = join(repoRoot, 'bench/results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await rm(file, { force: true });
  await run([
    '--virtual-time-budget=5000',
    '--hide-scrollbars',
    `--window-size=${width},${height}`,
    `--screenshot=${file}`,
  ]);
  expect((await stat(file)).size).toBeGreaterThan(10_000);
  const png = await readFile(file);
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([width, height]);
}

async function chromiumRun(
  chromium: string,
  profile: string,
  url: string,
  extra: string[],
): Promise<string> {
  {
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
        `${url}/`,
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
}

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
