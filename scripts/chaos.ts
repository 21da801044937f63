/**
 * Runs chaos scenarios outside the test runner and prints the results table and any violation:
 *   tsx scripts/chaos.ts [tier1|long|<scenario id>...] [--unsafe=skip-recheck|grant-without-head]
 * Ids are looked up in the long tier first, then tier 1. Needs root for the network namespace
 * (otherwise member isolation falls back to SIGSTOP). CHAOS_KEEP=1 keeps the artifacts.
 */
import { anomalies } from '../test/support/chaos/checkers.js';
import { resultsTable } from '../test/support/chaos/report.js';
import { runChaosSuite } from '../test/support/chaos/run-suite.js';
import {
  longTier,
  negativeControl,
  tier1,
  type ScenarioSpec,
} from '../test/support/chaos/scenarios.js';

const args = process.argv.slice(2);
const unsafeArg = args.find(a => a.startsWith('--unsafe='))?.slice('--unsafe='.length);
const unsafeMode =
  unsafeArg === 'skip-recheck' || unsafeArg === 'grant-without-head' ? unsafeArg : undefined;
const ids = args.filter(a => !a.startsWith('--'));
const scenarios: ScenarioSpec[] =
  ids.length === 0 || ids[0] === 'tier1'
    ? unsafeMode === undefined
      ? tier1
      : [negativeControl(unsafeMode)]
    : ids[0] === 'long'
      ? longTier
      : ids.map(id => {
          const found = longTier.find(s => s.id === id) ?? tier1.find(s => s.id === id);
          if (found === undefined) throw new Error(`no scenario "${id}"`);
          return found;
        });

process.env.CHAOS_VERBOSE ??= '1';
const report = await runChaosSuite({ scenarios, unsafeMode, timeoutMs: 60 * 60_000 });
console.log(
  `\nisolation: ${report.isolation}; ${Math.round(report.durationMs / 1000)} s${unsafeMode === undefined ? '' : `; UNSAFE ${unsafeMode}`}\n`,
);
console.log(
  resultsTable(
    report.scenarios.map(r => ({
      spec: r.spec,
      isolation: report.isolation,
      stats: r.stats,
      results: r.results,
    })),
  ),
);
for (const r of report.scenarios) {
  for (const f of r.faults)
    console.log(
      `${r.spec.id}: fault ${f.name} on ${f.target}: ${Math.round(f.end - f.start)} ms ${f.detail ?? ''}`,
    );
  for (const c of r.results) {
    for (const v of c.violations) console.log(`${r.spec.id}: [${c.name}] ${v}`);
  }
  if (r.meta.leftoverKeys > 0)
    console.log(`${r.spec.id}: ${r.meta.leftoverKeys} contender keys left`);
}
process.exitCode = report.scenarios.some(r => anomalies(r.results) > 0) ? 1 : 0;
