/**
 * Shared by the deploy tests: repo paths, the plain Prometheus rule file, and the check that every
 * metric a PromQL expression names is one slotlock exports (or a recording rule we define).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { createMetrics } from '../../src/metrics.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return path.join(repoRoot, ...parts);
}

const ruleSchema = z.strictObject({
  record: z.string().optional(),
  alert: z.string().optional(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const rulesFileSchema = z.strictObject({
  groups: z.array(
    z.strictObject({
      name: z.string(),
      interval: z.string().optional(),
      rules: z.array(ruleSchema),
    }),
  ),
});

export type RulesFile = z.infer<typeof rulesFileSchema>;
export type Rule = z.infer<typeof ruleSchema>;

export const rulesFilePath = repoPath('deploy/prometheus/slotlock.rules.yaml');

/** The plain rule file, parsed and shape-checked. */
export function loadRulesFile(): RulesFile {
  return rulesFileSchema.parse(parse(readFileSync(rulesFilePath, 'utf8')));
}

export function allRules(file: RulesFile): Rule[] {
  return file.groups.flatMap(group => group.rules);
}

/** Names of the recording rules in the plain rule file. */
export function recordingRuleNames(): Set<string> {
  return new Set(allRules(loadRulesFile()).flatMap(rule => (rule.record ? [rule.record] : [])));
}

/**
 * Metric names a PromQL expression (or Grafana query) refers to: every `slotlock…` identifier
 * outside string literals, plus Prometheus' own `up`. Label names, functions and `$variables`
 * never start with "slotlock", so a simple scan is enough for our own expressions.
 */
export function metricNamesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const names = code.match(/(?<![\w:$])(?:slotlock[\w:]*|up)(?![\w:(])/g) ?? [];
  return [...new Set(names)];
}

const histogramSuffixes = ['_bucket', '_count', '_sum'] as const;

/** Metric name -> prom-client type, from the real registry (default metrics off). */
export async function registryMetricTypes(): Promise<Map<string, string>> {
  const metrics = await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON();
  return new Map(metrics.map(metric => [metric.name, String(metric.type)]));
}

/**
 * The names among `names` that are neither a registry metric (a histogram's _bucket/_count/_sum
 * series included), a recording rule in `records`, nor `up`.
 */
export function unknownMetrics(
  names: Iterable<string>,
  types: ReadonlyMap<string, string>,
  records: ReadonlySet<string>,
): string[] {
  return [...names].filter(name => {
    if (name === 'up' || records.has(name) || types.has(name)) return false;
    const suffix = histogramSuffixes.find(s => name.endsWith(s));
    return suffix === undefined || types.get(name.slice(0, -suffix.length)) !== 'histogram';
  });
}

/** Runs a command to completion; `output` is stdout and stderr together, for assertion messages. */
export function run(
  command: string,
  args: string[],
  timeoutMs: number,
): { status: number | null; output: string; stdout: string } {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs });
  const output = `$ ${command} ${args.join(' ')}\n${result.stdout}${result.stderr}${
    result.error ? `\n${result.error.message}` : ''
  }`;
  return { status: result.status, output, stdout: result.stdout };
}

/** The absolute path of `command` on PATH, or undefined. */
export function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  return result.status === 0 && found !== '' ? found : undefined;
}
