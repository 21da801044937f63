/**
 * Small builders for the Grafana dashboard JSON model (schemaVersion 39). Every query goes to the
 * `$datasource` template variable, never to a fixed datasource uid, so the same JSON imports into
 * any Grafana. Layout (ids and grid positions) is assigned by {@link layout}.
 */

/** The datasource every panel and query uses: the `datasource` template variable. */
export const datasource = { type: 'prometheus', uid: '${datasource}' } as const;

export interface Target {
  refId: string;
  datasource: typeof datasource;
  expr: string;
  legendFormat: string;
  range: boolean;
  instant: boolean;
}

export interface ThresholdStep {
  color: string;
  value: number | null;
}

export interface GridPos {
  h: number;
  w: number;
  x: number;
  y: number;
}

/** A panel's JSON without its id and grid position. */
export interface PanelBody {
  type: 'timeseries' | 'stat' | 'row';
  title: string;
  [key: string]: unknown;
}

export interface Panel extends PanelBody {
  id: number;
  gridPos: GridPos;
}

/** A panel before layout: its size, and everything but id and position. */
export interface PanelSpec {
  width: number;
  height: number;
  body: PanelBody;
}

export interface Row {
  title: string;
  panels: PanelSpec[];
}

/** A threshold drawn on a time series: red above `value`, or red below it with `below`. */
export interface Line {
  value: number;
  below?: boolean;
}

function targets(queries: readonly (readonly [expr: string, legend: string])[], instant: boolean) {
  return queries.map(([expr, legendFormat], i): Target => ({
    refId: String.fromCharCode(65 + i),
    datasource,
    expr,
    legendFormat,
    range: !instant,
    instant,
  }));
}

function steps(line: Line | undefined): ThresholdStep[] {
  if (line === undefined) return [{ color: 'green', value: null }];
  return line.below === true
    ? [
        { color: 'red', value: null },
        { color: 'green', value: line.value },
      ]
    : [
        { color: 'green', value: null },
        { color: 'red', value: line.value },
      ];
}

/** A time series panel; `line` draws the SLO threshold as a dashed line. */
export function timeseries(opts: {
  title: string;
  description: string;
  unit: string;
  queries: readonly (readonly [expr: string, legend: string])[];
  width: number;
  line?: Line;
  stack?: boolean;
  min?: number;
}): PanelSpec {
  return {
    width: opts.width,
    height: 8,
    body: {
      type: 'timeseries',
      title: opts.title,
      description: opts.description,
      datasource,
      fieldConfig: {
        defaults: {
          unit: opts.unit,
          ...(opts.min === undefined ? {} : { min: opts.min }),
          color: { mode: 'palette-classic' },
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: opts.stack === true ? 30 : 10,
            showPoints: 'never',
            spanNulls: false,
            stacking: { mode: opts.stack === true ? 'normal' : 'none', group: 'A' },
            thresholdsStyle: { mode: opts.line === undefined ? 'off' : 'dashed' },
          },
          thresholds: { mode: 'absolute', steps: steps(opts.line) },
        },
        overrides: [],
      },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
      targets: targets(opts.queries, false),
    },
  };
}

/** A single-value panel coloured by `line` (or by value mappings). */
export function stat(opts: {
  title: string;
  description: string;
  unit: string;
  expr: string;
  width: number;
  line?: Line;
  decimals?: number;
  mappings?: unknown[];
}): PanelSpec {
  return {
    width: opts.width,
    height: 8,
    body: {
      type: 'stat',
      title: opts.title,
      description: opts.description,
      datasource,
      fieldConfig: {
        defaults: {
          unit: opts.unit,
          ...(opts.decimals === undefined ? {} : { decimals: opts.decimals }),
          color: { mode: 'thresholds' },
          mappings: opts.mappings ?? [],
          thresholds: { mode: 'absolute', steps: steps(opts.line) },
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'background',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
      },
      targets: targets([[opts.expr, '']], true),
    },
  };
}

/** Assigns ids and grid positions: one collapsible row per SLI, panels left to right under it. */
export function layout(rows: readonly Row[]): Panel[] {
  const panels: Panel[] = [];
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: panels.length + 1,
      gridPos: { h: 1, w: 24, x: 0, y },
      type: 'row',
      title: row.title,
      collapsed: false,
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of row.panels) {
      if (x + spec.width > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({
        id: panels.length + 1,
        gridPos: { h: spec.height, w: spec.width, x, y },
        ...spec.body,
      });
      x += spec.width;
      rowHeight = Math.max(rowHeight, spec.height);
    }
    y += rowHeight;
  }
  return panels;
}
