import { statusPageCharts } from './script-charts.js';

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

  ${statusPageCharts}
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
    const windowS = Math.round(report.slis.windowS);
    byId('sli-window').textContent = windowS > report.slis.maxWindowS
      ? '(recent = the last ' + windowS + ' s: no report was read in between)'
      : '(recent = the last ' + windowS + ' s, up to ' + report.slis.maxWindowS + ' s)';
    byId('sli-note').textContent = report.note;
  }

  function seconds(ms) {
    return ms === null ? 'session lease' : 'expires in ' + (ms / 1000).toFixed(1) + ' s';
  }

  function emptyRow(cols, text) {
    return h('tr', null, h('td', { class: 'empty', colspan: cols }, text));
  }

  function renderSlots(slots, why) {
    const body = byId('slots').tBodies[0];
    if (!slots) {
      body.replaceChildren(emptyRow(4, 'unavailable: ' + why));
      byId('slots-count').textContent = '';
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
              x.bundle ? h('span', { class: 'bundle' }, 'bundle of ' + x.bundle.slots.join(' + ')) : null,
              h('span', { class: 'expires' }, seconds(x.expiresInMs)))))),
        h('td', { class: 'num' + (s.waiting > 0 ? ' waiting-some' : ''), 'data-waiting': s.waiting }, s.waiting)));
    body.replaceChildren(...(rows.length > 0 ? rows : [emptyRow(4, 'No slot has holders or waiters.')]));
    byId('slots-count').textContent = '(' + slots.items.length +
      (slots.truncated ? ', only the first ' + slots.limit + ' by name' : '') + ')';
  }

  function renderElections(elections, why) {
    const body = byId('elections').tBodies[0];
    if (!elections) {
      body.replaceChildren(emptyRow(4, 'unavailable: ' + why));
      byId('elections-count').textContent = '';
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

  const ETCD_DOWN =
    'etcd is unreachable from this replica: slots and elections cannot be shown, and acquires ' +
    'and campaigns are answered with 503 until it is back. The SLIs below are still this replica\'s own.';

  /** Renders each part on its own, so one that fails leaves the others on the page. */
  function render(report) {
    const why = report.etcd.ok ? 'this part could not be read (see the replica log)' : 'etcd is unreachable';
    const parts = [
      () => renderSummary(report),
      () => renderSlis(report),
      () => renderSlots(report.slots, why),
      () => renderElections(report.elections, why),
      () => {
        const r = report.replica;
        byId('replica').textContent = 'replica ' + r.id + ' · v' + r.version +
          (r.commit === 'unknown' ? '' : ' (' + r.commit.slice(0, 12) + ')');
      },
    ];
    let failed = 0;
    for (const part of parts) {
      try {
        part();
      } catch (err) {
        failed += 1;
        console.error('status page: a part failed to render', err);
      }
    }
    const problems = [];
    if (!report.etcd.ok) problems.push(ETCD_DOWN);
    if (report.unavailable && report.unavailable.length > 0) {
      problems.push('Could not read ' + report.unavailable.join(' and ') + ' (see the replica log).');
    }
    if (failed > 0) problems.push('Part of this page could not be drawn (see the browser console).');
    setBanner(problems.join(' '));
    byId('updated').textContent = 'updated ' + new Date(report.generatedAt).toLocaleTimeString();
    return report.etcd.ok && !report.unavailable;
  }

  async function poll() {
    try {
      const res = await fetch('v1/status', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const healthy = render(await res.json());
      if (healthy) setConn('live', 'live');
      else setConn('degraded', 'degraded');
    } catch (err) {
      // The last report stays on the page, marked stale by the badge and the banner.
      setConn('error', 'disconnected');
      setBanner('Cannot reach this replica (' + (err instanceof Error ? err.message : String(err)) +
        '); showing the last report, retrying every 2 s.');
    } finally {
      polls += 1;
      document.body.dataset.polls = String(polls);
      // For the headless-browser tests: table cells whose content spills out of them.
      document.body.dataset.spilling = String([...document.querySelectorAll('td')]
        .filter(td => td.scrollWidth > td.clientWidth + 1).length);
      setTimeout(poll, POLL_MS);
    }
  }

  void poll();
})();
`;
