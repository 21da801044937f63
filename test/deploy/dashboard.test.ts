import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { slotlockDashboard } from '../../deploy/grafana/dashboard.js';
import {
  metricNamesIn,
  recordingRuleNames,
  registryMetricTypes,
  repoPath,
  unknownMetrics,
} from './deploy-support.js';

const committed: unknown = JSON.parse(
  readFileSync(repoPath('deploy/grafana/slotlock-dashboard.json'), 'utf8'),
);

interface Node {
  [key: string]: unknown;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every object in the JSON tree, depth first. */
function nodes(value: unknown): Node[] {
  if (Array.isArray(value)) return value.flatMap(nodes);
  if (!isNode(value)) return [];
  return [value, ...Object.values(value).flatMap(nodes)];
}

/** PromQL of every panel target and every query variable. */
function queries(dashboard: unknown): string[] {
  return nodes(dashboard).flatMap(node => {
    if (typeof node.expr === 'string') return [node.expr];
    if (node.type === 'query' && typeof node.definition === 'string') return [node.definition];
    return [];
  });
}

function panels(dashboard: unknown): Node[] {
  return isNode(dashboard) && Array.isArray(dashboard.panels)
    ? dashboard.panels.filter(isNode)
    : [];
}

describe('slotlock Grafana dashboard', () => {
  it('is committed exactly as deploy/grafana/dashboard.ts generates it', () => {
    expect(committed, 'run: npx tsx scripts/gen-dashboard.ts').toEqual(slotlockDashboard());
  });

  it('has a stable uid, tags and a recent schema version', () => {
    expect(committed).toMatchObject({ uid: 'slotlock-slo' });
    expect(isNode(committed) && committed.tags).toContain('slotlock');
    expect(isNode(committed) && Number(committed.schemaVersion)).toBeGreaterThanOrEqual(39);
  });

  it('queries only registered metrics and recording rules from slotlock.rules.yaml', async () => {
    const used = new Set(queries(committed).flatMap(metricNamesIn));
    expect(used.size).toBeGreaterThan(10);
    const unknown = unknownMetrics(used, await registryMetricTypes(), recordingRuleNames());
    expect(unknown).toEqual([]);
  });

  it('reads every panel and query through the datasource variable', () => {
    const variables =
      isNode(committed) && isNode(committed.templating) ? committed.templating.list : [];
    expect(variables).toContainEqual(
      expect.objectContaining({ type: 'datasource', name: 'datasource', query: 'prometheus' }),
    );
    const refs = nodes(committed).flatMap(node =>
      isNode(node.datasource) ? [node.datasource] : [],
    );
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('uses $__rate_interval (or $__range in totals) in every rate and increase', () => {
    const windows = queries(committed).flatMap(expr =>
      [...expr.matchAll(/(?:rate|increase)\([^[]*\[([^\]]+)\]\)/g)].map(m => [expr, m[1]]),
    );
    expect(windows.length).toBeGreaterThan(15);
    for (const [expr, window] of windows) {
      expect(['$__rate_interval', '$__range'], expr).toContain(window);
    }
  });

  it('has one row per SLI, each with its panels', () => {
    const rows = panels(committed).filter(panel => panel.type === 'row');
    const titles = rows.map(row => String(row.title));
    for (const sli of [
      'acquire latency',
      'contention',
      'election',
      'commit latency',
      'availability',
      'fencing',
    ]) {
      expect(
        titles.some(title => title.toLowerCase().includes(sli)),
        sli,
      ).toBe(true);
    }
  });

  it('draws each SLO threshold on its panel', () => {
    const thresholds = (title: string) => {
      const panel = panels(committed).find(p => p.title === title);
      return nodes(panel).flatMap(node =>
        Array.isArray(node.steps) ? node.steps.filter(isNode).map(step => step.value) : [],
      );
    };
    expect(thresholds('Acquire p95 by mode')).toContain(0.1);
    expect(thresholds('Leaderless time p95')).toContain(5);
    expect(thresholds('etcd txn p95')).toContain(0.05);
    expect(thresholds('Requests answered without a 5xx')).toContain(0.999);
  });

  it('lays panels out without overlapping on the 24-column grid', () => {
    const cells = new Set<string>();
    for (const panel of panels(committed)) {
      const pos = panel.gridPos as { x: number; y: number; w: number; h: number };
      expect(pos.x + pos.w, String(panel.title)).toBeLessThanOrEqual(24);
      for (let x = pos.x; x < pos.x + pos.w; x++) {
        for (let y = pos.y; y < pos.y + pos.h; y++) {
          expect(cells.has(`${x},${y}`), String(panel.title)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    const ids = panels(committed).map(panel => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
