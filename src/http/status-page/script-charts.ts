/**
 * The helpers of the status page's script (src/http/status-page/script.ts splices this in, in the
 * same scope): element and SVG builders that only ever set text and attributes, the per-key
 * history of polled values, and the inline SVG sparkline drawn from it. The sparkline has a
 * viewBox, so CSS may shrink it to its cell. Same rules as the script: plain ES2020, no backtick,
 * no dollar-brace sequence.
 */
export const statusPageCharts = String.raw`const byId = id => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  function record(key, value) {
    const values = series.get(key) || [];
    values.push(typeof value === 'number' && Number.isFinite(value) ? value : null);
    if (values.length > KEEP) values.splice(0, values.length - KEEP);
    series.set(key, values);
    return values;
  }

  const COLORS = { ok: '--ok', breach: '--bad', no_data: '--none', tracked: '--info' };

  /** A sparkline of values, oldest left, newest right; gaps where a value was missing. */
  function sparkline(values, opts) {
    const w = opts.width || 120;
    const ht = opts.height || 28;
    const pad = 3;
    const chart = svg('svg', { class: 'spark', width: w, height: ht, viewBox: '0 0 ' + w + ' ' + ht });
    chart.setAttribute('role', 'img');
    chart.setAttribute('aria-label', opts.label || 'trend');
    const nums = values.filter(v => v !== null);
    if (nums.length === 0) {
      const text = svg('text', { x: pad, y: ht / 2 + 3 });
      text.textContent = 'no data yet';
      chart.append(text);
      return chart;
    }
    let lo = Math.min(...nums);
    let hi = Math.max(...nums);
    if (hi - lo < 1e-12) {
      const d = Math.abs(hi) * 0.1 || 1;
      lo -= d;
      hi += d;
    }
    // Until KEEP values have been polled, the points spread over the whole width.
    const x = i => pad + (i * (w - 2 * pad)) / Math.max(1, values.length - 1);
    const y = v => ht - pad - ((v - lo) * (ht - 2 * pad)) / (hi - lo);
    const color = 'var(' + (COLORS[opts.state] || '--accent') + ')';
    if (typeof opts.target === 'number' && opts.target >= lo && opts.target <= hi) {
      const ty = y(opts.target).toFixed(1);
      chart.append(svg('line', { class: 'target', x1: pad, x2: w - pad, y1: ty, y2: ty }));
    }
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        const line = svg('polyline', { points: run.join(' ') });
        line.style.stroke = color;
        chart.append(line);
      }
      run = [];
    };
    values.forEach((v, i) => {
      if (v === null) flush();
      else run.push(x(i).toFixed(1) + ',' + y(v).toFixed(1));
    });
    flush();
    const last = values.length - 1;
    if (values[last] !== null) {
      const dot = svg('circle', { cx: x(last).toFixed(1), cy: y(values[last]).toFixed(1), r: 2 });
      dot.style.fill = color;
      chart.append(dot);
    }
    return chart;
  }

`;
