/**
 * Absolute runbook links for the alert rules: `<base>#<alert name in lower case>`, the anchor
 * GitHub (and most Markdown renderers) give the `### <AlertName>` headings of docs/sre.md.
 * The base is RUNBOOK_BASE_URL, else {@link DEFAULT_RUNBOOK_BASE_URL}; point it at wherever your
 * copy of docs/sre.md is served and run scripts/gen-prometheus-rule.ts again.
 */

/** Where docs/sre.md is published by default. */
export const DEFAULT_RUNBOOK_BASE_URL =
  'https://github.com/slotlock/slotlock/blob/main/docs/sre.md';

/** The configured base URL (RUNBOOK_BASE_URL), checked to be an absolute http(s) URL. */
export function runbookBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.RUNBOOK_BASE_URL?.trim() || DEFAULT_RUNBOOK_BASE_URL;
  const url = new URL(base);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`RUNBOOK_BASE_URL must be an http(s) URL, got ${base}`);
  }
  if (url.hash !== '') throw new Error(`RUNBOOK_BASE_URL must not carry a #fragment: ${base}`);
  return base;
}

/** The runbook link of one alert. */
export function runbookUrl(base: string, alert: string): string {
  return `${base}#${alert.toLowerCase()}`;
}

/**
 * Rewrites every `runbook_url:` line of a rules file or promtool test file to the link of the
 * alert it belongs to: the last `- alert: X` (rules) or `alertname: X` (tests) above it. Works
 * line by line, so comments and layout stay as they are.
 */
export function relinkRunbooks(text: string, base: string): string {
  let alert: string | undefined;
  return text
    .split('\n')
    .map(line => {
      const named = /^\s*(?:- alert|alertname):\s*([A-Za-z0-9_]+)\s*$/.exec(line);
      if (named !== null) alert = named[1];
      const link = /^(\s*runbook_url:\s*).*$/.exec(line);
      if (link === null) return line;
      if (alert === undefined) throw new Error(`runbook_url before any alert: ${line}`);
      return `${link[1]}${runbookUrl(base, alert)}`;
    })
    .join('\n');
}
