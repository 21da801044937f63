/** The status page's style sheet (served from this replica; no external fonts or assets). */
export const statusPageStyle = `
:root {
  --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb;
  --ok: #1a7f37; --ok-bg: #e6f4ea; --bad: #c62828; --bad-bg: #fdecea;
  --info: #1f5fbf; --info-bg: #e8f0fc; --none: #6b7280; --none-bg: #eef0f3; --accent: #3b5bdb;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; padding: 12px 24px;
  background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 20px 0 8px; }
main { padding: 0 24px 8px; }
footer { padding: 8px 24px 16px; }
a { color: var(--accent); }
.muted { color: var(--muted); font-weight: normal; }
.note { color: var(--muted); font-size: 12px; margin: 6px 0 0; max-width: 1100px; }
.banner { margin: 12px 24px 0; padding: 8px 12px; border-radius: 6px;
  background: var(--bad-bg); color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-top: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; display: flex; justify-content: space-between; align-items: flex-end; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.columns { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; }
.columns > section { min-width: 0; }
table { width: 100%; table-layout: fixed; border-collapse: collapse; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
.replica { margin-left: auto; font-size: 12px; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc;
  overflow-wrap: normal; }
tbody tr:last-child td { border-bottom: 0; }
#slis col.sli { width: 30%; } #slis col.slo { width: 11%; } #slis col.val { width: 11%; }
#slis col.status { width: 10%; } #slis col.trend { width: 27%; }
#slots col.name { width: 32%; } #slots col.cap { width: 11%; } #slots col.who { width: 45%; }
#slots col.wait { width: 12%; }
#elections col.name { width: 36%; } #elections col.who { width: 38%; }
#elections col.term { width: 12%; } #elections col.wait { width: 14%; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: var(--muted); text-align: center; padding: 14px; }
td.name, .holder { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: 13px; overflow-wrap: anywhere; }
ul.holders { list-style: none; margin: 0; padding: 0; }
ul.holders li + li { margin-top: 2px; }
.token, .expires, .leader-value { color: var(--muted); font-size: 12px; margin-left: 6px; }
.token, .expires { white-space: nowrap; }
.meta > :first-child { margin-left: 0; }
.leader-value { display: block; margin-left: 0; overflow-wrap: anywhere; }
.waiting-some { color: var(--bad); font-weight: 600; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; background: var(--none-bg); color: var(--none); }
.pill[data-state="ok"], .pill[data-state="live"] { background: var(--ok-bg); color: var(--ok); }
.pill[data-state="breach"], .pill[data-state="error"] { background: var(--bad-bg); color: var(--bad); }
.pill[data-state="degraded"] { background: #fff4e5; color: #8a4b00; }
.pill[data-state="tracked"] { background: var(--info-bg); color: var(--info); }
td.breach, span.breach { color: var(--bad); font-weight: 600; }
svg.spark { display: block; max-width: 100%; height: auto; }
#slis svg.spark { width: 100%; max-width: 220px; }
svg.spark polyline { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
svg.spark line.target { stroke: var(--muted); stroke-width: 1; stroke-dasharray: 2 3; opacity: 0.7; }
svg.spark text { font-size: 9px; fill: var(--muted); }
@media (max-width: 900px) {
  header, main, footer { padding-left: 12px; padding-right: 12px; }
  .banner { margin: 12px 12px 0; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  .columns { grid-template-columns: 1fr; }
  th, td { padding: 6px 6px; }
  #slis col.sli { width: 31%; } #slis col.slo { width: 14%; } #slis col.val { width: 12%; }
  #slis col.status { width: 12%; } #slis col.trend { width: 19%; }
}
`;
