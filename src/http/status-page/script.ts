/**
 * The status page's script, served as /status/app.js. It polls `v1/status` every 2 s and builds
 * every table cell and chart with `textContent`/`createTextNode` and `setAttribute`, never
 * `innerHTML`, so slot names, holder labels and values are always text. Charts are inline SVG
 * sparklines of the last 60 polled values, drawn here.
 *
 * Kept as plain ES2020 in a string (the service build emits only .js from .ts); it must contain
 * no backtick and no dollar-brace sequence.
 */
export const statusPageScript = String.raw`'use strict';
(() => {
  const POLL_MS = 2000;
  const KEEP = 60;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const series = new Map();
  let polls = 0;

  const byId = id => document.getElementById(id);

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

  const clean = v => Number(v.toPrecision(6));

  function fmtValue(sli, v) {
    if (v === null || v === undefined) return '—';
    if (sli.unit === 'seconds') {
      return v < 1 ? (v * 1000).toFixed(v < 0.01 ? 2 : 1) + ' ms' : v.toFixed(2) + ' s';
    }
    if (sli.unit === 'ratio') return (v * 100).toFixed(sli.id === 'availability' ? 3 : 1) + ' %';
    return String(Math.round(v));
  }

  function fmtTarget(sli) {
    if (sli.comparator === null || sli.target === null) return 'tracked, no SLO';
    const op = { '<=': '≤ ', '>=': '≥ ', '=': '= ' }[sli.comparator];
    if (sli.unit === 'seconds') {
      return op + (sli.target < 1 ? clean(sli.target * 1000) + ' ms' : clean(sli.target) + ' s');
    }
    if (sli.unit === 'ratio') return op + clean(sli.target * 100) + ' %';
    return op + sli.target;
  }

  const STATUS_TEXT = { ok: 'OK', breach: 'breach', no_data: 'no data', tracked: 'tracked' };

  function renderSlis(report) {
    const rows = report.slis.slis.map(sli => {
      const trend = record('sli:' + sli.id, sli.recent);
      return h('tr', { 'data-sli': sli.id },
        h('td', null, sli.name,
          h('div', { class: 'note' }, sli.events.recent + ' events recent, ' + sli.events.sinceStart + ' since start')),
        h('td', null, fmtTarget(sli)),
        h('td', { class: 'num' + (sli.status === 'breach' ? ' breach' : '') }, fmtValue(sli, sli.recent)),
        h('td', { class: 'num' + (sli.statusSinceStart === 'breach' ? ' breach' : '') }, fmtValue(sli, sli.sinceStart)),
        h('td', null, h('span', { class: 'pill', 'data-state': sli.status }, STATUS_TEXT[sli.status] || sli.status)),
        h('td', null, sparkline(trend, { width: 220, height: 30, state: sli.status, target: sli.target, label: sli.name + ' trend' })));
    });
    byId('slis').tBodies[0].replaceChildren(...rows);
    byId('sli-window').textContent =
      '(recent window ' + Math.round(report.slis.windowS) + ' s of at most ' + report.slis.maxWindowS + ' s)';
    byId('sli-note').textContent = report.note;
  }

  function seconds(ms) {
    return ms === null ? 'session lease' : 'expires in ' + (ms / 1000).toFixed(1) + ' s';
  }

  function emptyRow(cols, text) {
    return h('tr', null, h('td', { class: 'empty', colspan: cols }, text));
  }

  function renderSlots(slots) {
    const body = byId('slots').tBodies[0];
    if (!slots) {
      body.replaceChildren(emptyRow(4, 'unavailable: etcd could not be read'));
      return;
    }
    const rows = slots.items.map(s =>
      h('tr', { 'data-slot': s.slot },
        h('td', { class: 'name' }, s.slot),
        h('td', { class: 'num' }, s.capacity === null ? '—' : s.capacity),
        h('td', null, s.holders.length === 0 ? h('span', { class: 'muted' }, 'none') :
          h('ul', { class: 'holders' }, s.holders.map(x =>
            h('li', { 'data-holder': x.holder },
              h('span', { class: 'holder' }, x.holder),
              h('span', { class: 'token' }, 'token ' + x.token),
              h('span', { class: 'expires' }, seconds(x.expiresInMs)))))),
        h('td', { class: 'num' + (s.waiting > 0 ? ' waiting-some' : ''), 'data-waiting': s.waiting }, s.waiting)));
    body.replaceChildren(...(rows.length > 0 ? rows : [emptyRow(4, 'No slot has holders or waiters.')]));
    byId('slots-count').textContent = '(' + slots.items.length +
      (slots.truncated ? ', only the first ' + slots.limit + ' by name' : '') + ')';
  }

  function renderElections(elections) {
    const body = byId('elections').tBodies[0];
    if (!elections) {
      body.replaceChildren(emptyRow(4, 'unavailable: etcd could not be read'));
      return;
    }
    const rows = elections.items.map(e =>
      h('tr', { 'data-election': e.election },
        h('td', { class: 'name' }, e.election),
        h('td', null, e.leader === null ? h('span', { class: 'breach' }, 'no leader') : [
          h('div', { class: 'holder', 'data-leader': e.leader.candidate }, e.leader.candidate),
          h('div', { class: 'meta' }, h('span', { class: 'expires' }, seconds(e.leader.expiresInMs))),
          e.leader.value === '' ? null : h('div', { class: 'leader-value' }, 'value ' + e.leader.value)]),
        h('td', { class: 'num' }, e.leader === null ? '—' : e.leader.token),
        h('td', { class: 'num' }, e.waiting)));
    body.replaceChildren(...(rows.length > 0 ? rows : [emptyRow(4, 'No election has candidates.')]));
    byId('elections-count').textContent = '(' + elections.items.length +
      (elections.truncated ? ', only the first ' + elections.limit + ' by name' : '') + ')';
  }

  function renderSummary(report) {
    const slots = report.slots ? report.slots.items : null;
    const elections = report.elections ? report.elections.items : null;
    const total = (items, f) => (items ? items.reduce((n, x) => n + f(x), 0) : null);
    const cards = [
      ['held', 'slots held', total(slots, s => (s.holders.length > 0 ? 1 : 0))],
      ['holders', 'holders', total(slots, s => s.holders.length)],
      ['waiting', 'waiting', total(slots, s => s.waiting)],
      ['elections', 'elections', elections ? elections.length : null],
      ['leaders', 'leaders', total(elections, e => (e.leader ? 1 : 0))],
    ].map(([key, label, value]) =>
      h('div', { class: 'card', 'data-card': key },
        h('div', null, h('div', { class: 'label' }, label),
          h('div', { class: 'value' }, value === null ? '—' : value)),
        sparkline(record('sum:' + key, value), { width: 96, height: 30, label: label + ' trend' })));
    byId('summary').replaceChildren(...cards);
  }

  function setBanner(text) {
    const banner = byId('banner');
    banner.textContent = text || '';
    banner.hidden = !text;
  }

  function setConn(state, text) {
    const pill = byId('conn');
    pill.dataset.state = state;
    pill.textContent = text;
  }

  function render(report) {
    renderSummary(report);
    renderSlis(report);
    renderSlots(report.slots);
    renderElections(report.elections);
    setBanner(report.etcd.ok ? '' : 'etcd could not be read: ' + report.etcd.detail);
    byId('updated').textContent = 'updated ' + new Date(report.generatedAt).toLocaleTimeString();
  }

  async function poll() {
    try {
      const res = await fetch('v1/status', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      setConn('live', 'live');
    } catch (err) {
      setConn('error', 'disconnected');
      setBanner('Cannot load v1/status: ' + (err instanceof Error ? err.message : String(err)));
    } finally {
      polls += 1;
      document.body.dataset.polls = String(polls);
      setTimeout(poll, POLL_MS);
    }
  }

  void poll();
})();
`;
