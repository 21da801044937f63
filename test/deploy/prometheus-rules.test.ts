import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { relinkRunbooks, runbookBaseUrl, runbookUrl } from '../../scripts/runbook-links.js';
import {
  allRules,
  loadRulesFile,
  metricNamesIn,
  registryMetricTypes,
  repoPath,
  rulesFilePath,
  run,
  unknownMetrics,
} from './deploy-support.js';

const testFilePath = repoPath('deploy/prometheus/slotlock.rules.test.yaml');

/** promtool from PATH or .data/tools, fetched from Debian's prometheus package when missing. */
function findPromtool(): string {
  const installed = run(
    'bash',
    [repoPath('scripts/install-prometheus-tools.sh'), 'promtool'],
    300_000,
  );
  const path = installed.stdout.trim().split('\n').at(-1) ?? '';
  if (installed.status !== 0 || !existsSync(path)) {
    throw new Error(`could not get promtool:\n${installed.output}`);
  }
  return path;
}

describe('slotlock.rules.yaml', () => {
  let promtool = '';

  beforeAll(() => {
    promtool = findPromtool();
  }, 300_000);

  it('passes promtool check rules', () => {
    const result = run(promtool, ['check', 'rules', rulesFilePath], 60_000);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it("is loaded by the compose stack's prometheus.yml, which passes promtool check config", () => {
    const result = run(
      promtool,
      ['check', 'config', repoPath('deploy/prometheus/prometheus.yml')],
      60_000,
    );
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('1 rule files found');
  });

  it('passes its promtool unit tests', () => {
    const result = run(promtool, ['test', 'rules', testFilePath], 120_000);
    expect(result.status, result.output).toBe(0);
  }, 150_000);

  it('refers only to metrics that src/metrics.ts registers or to its own recording rules', async () => {
    const rules = allRules(loadRulesFile());
    const records = new Set(rules.flatMap(rule => (rule.record ? [rule.record] : [])));
    const types = await registryMetricTypes();
    const used = new Set(rules.flatMap(rule => metricNamesIn(rule.expr)));
    expect(used.size).toBeGreaterThan(10);
    expect(unknownMetrics(used, types, records)).toEqual([]);
  });

  it('names recording rules level:metric:operation and defines the SLI records', () => {
    const records = allRules(loadRulesFile()).flatMap(rule => (rule.record ? [rule.record] : []));
    for (const record of records) expect(record).toMatch(/^slotlock:[a-z0-9_]+:[a-z0-9_]+$/);
    expect(new Set(records).size).toBe(records.length);
    const required = [
      'slotlock:lock_acquire_duration_seconds:p95_rate5m',
      'slotlock:lock_contention:ratio_rate5m',
      'slotlock:etcd_txn_duration_seconds:p95_rate5m',
      'slotlock:election_duration_seconds:p95_rate1h',
      'slotlock:etcd_requests_errors:ratio_rate5m',
      ...['lock_acquire_slow', 'election_slow', 'etcd_txn_slow', 'http_requests_errors'].flatMap(
        sli => ['5m', '30m', '1h', '6h', '3d'].map(window => `slotlock:${sli}:ratio_rate${window}`),
      ),
    ];
    expect(required.filter(name => !records.includes(name))).toEqual([]);
  });

  it('gives every alert a severity, a summary, a description and an absolute runbook link', () => {
    const alerts = allRules(loadRulesFile()).filter(rule => rule.alert !== undefined);
    expect(alerts.length).toBeGreaterThan(0);
    const base = runbookBaseUrl();
    const sre = readFileSync(repoPath('docs/sre.md'), 'utf8');
    for (const alert of alerts) {
      const name = alert.alert ?? '';
      expect(['page', 'ticket'], name).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, name).toBeTruthy();
      expect(alert.annotations?.description, name).toBeTruthy();
      expect(alert.annotations?.runbook_url, `${name}: run scripts/gen-prometheus-rule.ts`).toBe(
        runbookUrl(base, name),
      );
      // The anchor exists: docs/sre.md has a "### <AlertName>" section for it.
      expect(sre, `docs/sre.md has no "### ${name}" section`).toMatch(
        new RegExp(`^### ${name}$`, 'm'),
      );
    }
  });

  it('links runbooks in its promtool tests the same way (the generator is idempotent)', () => {
    const base = runbookBaseUrl();
    for (const path of [rulesFilePath, testFilePath]) {
      const text = readFileSync(path, 'utf8');
      expect(relinkRunbooks(text, base), `${path}: run scripts/gen-prometheus-rule.ts`).toBe(text);
    }
  });

  it('pages and tickets each SLO with the SRE workbook burn-rate windows', () => {
    const alerts = allRules(loadRulesFile()).filter(rule => rule.alert?.endsWith('BudgetBurn'));
    const slos = new Set(alerts.map(alert => alert.labels?.slo));
    expect(slos).toEqual(
      new Set(['lock-acquire-latency', 'election-latency', 'etcd-commit-latency', 'availability']),
    );
    for (const slo of slos) {
      const tiers = alerts
        .filter(alert => alert.labels?.slo === slo)
        .map(a => `${a.labels?.severity} ${a.labels?.long_window}/${a.labels?.short_window}`);
      expect(tiers.sort(), slo).toEqual(['page 1h/5m', 'page 6h/30m', 'ticket 3d/6h']);
    }
  });
});

const unitTestsSchema = z.object({
  tests: z.array(
    z.object({
      name: z.string(),
      alert_rule_test: z
        .array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()).nullish() }))
        .optional(),
    }),
  ),
});

describe('slotlock.rules.test.yaml', () => {
  it('shows every alert both firing and silent', () => {
    const { tests } = unitTestsSchema.parse(parse(readFileSync(testFilePath, 'utf8')));
    const cases = tests.flatMap(test => test.alert_rule_test ?? []);
    const alertNames = new Set(
      allRules(loadRulesFile()).flatMap(rule => (rule.alert ? [rule.alert] : [])),
    );
    for (const name of alertNames) {
      const mine = cases.filter(c => c.alertname === name);
      expect(
        mine.some(c => (c.exp_alerts?.length ?? 0) > 0),
        `${name} never fires`,
      ).toBe(true);
      expect(
        mine.some(c => (c.exp_alerts?.length ?? 0) === 0),
        `${name} never stays silent`,
      ).toBe(true);
    }
  });
});
