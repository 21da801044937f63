/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per module,
 * and inclusive time per module (how much CPU ran under express, pino-http, zod, grpc, ...).
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * A time window in microseconds of CLOCK_MONOTONIC, the clock of both V8's profile timestamps and
 * `process.hrtime` on Linux, so the bench process can mark the measured part of the child's profile.
 */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/** The current CLOCK_MONOTONIC time in microseconds (comparable with .cpuprofile timestamps). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface Share {
  name: string;
  ms: number;
  /** Percent of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Only samples inside this window were counted (the measured load, not start-up). */
  window: ProfileWindow | undefined;
  busyMs: number;
  idleMs: number;
  topSelf: Share[];
  selfByModule: Share[];
  inclusiveByModule: Share[];
  /** Each sample charged to the nearest frame of a known layer (Node internals go to their caller). */
  byLayer: Share[];
}

/** Which part of the service a module belongs to; undefined for Node internals and natives. */
export function layerOf(module: string): string | undefined {
  if (module === '(garbage collector)') return '(garbage collector)';
  if (
    /^(@grpc\/|protobufjs|long$|etcd3$|cockatiel$)/.test(module) ||
    module.startsWith('src/etcd/')
  ) {
    return 'etcd client: grpc-js, http2, protobuf, etcd3, cockatiel, src/etcd';
  }
  if (/^(zod|@asteasolutions\/)/.test(module)) return 'validation: zod';
  if (module === 'prom-client') return 'metrics: prom-client';
  if (
    /^(pino|pino-http|pino-std-serializers|sonic-boom|fast-redact|thread-stream)$/.test(module) ||
    module === 'src/http/request-log.ts'
  ) {
    return 'logging: pino, src/http/request-log.ts';
  }
  if (module.startsWith('src/domain/')) return 'domain: src/domain';
  if (
    module.startsWith('src/') ||
    /^(express|router|body-parser|raw-body|on-finished|finalhandler|type-is|content-type|media-typer|mime-types|qs|iconv-lite|statuses|http-errors|depd|send|parseurl|path-to-regexp|cookie|vary|encodeurl|escape-html|accepts|negotiator|forwarded|proxy-addr|content-disposition|fresh|range-parser|etag|merge-descriptors|setprototypeof|safe-buffer|utils-merge|destroy|ee-first|unpipe|bytes)$/.test(
      module,
    )
  ) {
    return 'HTTP: express, router, src/http';
  }
  if (module.startsWith('tsx')) return 'tsx loader';
  return undefined;
}

/** "express", "@grpc/grpc-js", "src/domain/semaphore.ts", "node:internal/http", "(gc)"... */
export function moduleOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    const pkg = parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1] ?? ''}` : parts[0];
    return pkg ?? url;
  }
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts.slice(0, parts[0] === 'internal' ? 2 : 1).join('/')}`;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1).replace(/\?.*$/, '');
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1).replace(/\?.*$/, '');
  return url.replace(/^file:\/\//, '');
}

function top(map: Map<string, number>, busyMs: number, n: number): Share[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), pct: busyMs > 0 ? (100 * ms) / busyMs : 0 }));
}

export async function summarizeProfile(
  file: string,
  n = 20,
  window?: ProfileWindow,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfFn = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const inclusiveModule = new Map<string, number>();
  const layers = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const deltaUs = profile.timeDeltas[i] ?? 0;
    at += deltaUs;
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return;
    const ms = deltaUs / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    const fn = `${functionName === '' ? '(anonymous)' : functionName} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`;
    selfFn.set(fn.trim(), (selfFn.get(fn.trim()) ?? 0) + ms);
    const mod = moduleOf(url, functionName);
    selfModule.set(mod, (selfModule.get(mod) ?? 0) + ms);
    const seen = new Set<string>();
    let layer: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (frame === undefined || frame.functionName === '(root)') continue;
      const m = moduleOf(frame.url, frame.functionName);
      seen.add(m);
      layer ??= layerOf(m);
    }
    for (const m of seen) inclusiveModule.set(m, (inclusiveModule.get(m) ?? 0) + ms);
    layer ??= mod === '(program)' ? '(program)' : 'Node internals called from the event loop';
    layers.set(layer, (layers.get(layer) ?? 0) + ms);
  });
  return {
    file,
    window,
    busyMs: Math.round(busyMs),
    idleMs: Math.round(idleMs),
    topSelf: top(selfFn, busyMs, n),
    selfByModule: top(selfModule, busyMs, n),
    inclusiveByModule: top(inclusiveModule, busyMs, n),
    byLayer: top(layers, busyMs, n),
  };
}

/** Plain-text rendering of a summary for the console and the docs. */
export function renderProfile(s: ProfileSummary): string {
  const section = (title: string, rows: Share[]) =>
    [
      title,
      ...rows.map(
        r => `  ${r.pct.toFixed(1).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`,
      ),
    ].join('\n');
  return [
    `profile ${s.file}: busy ${s.busyMs} ms, idle ${s.idleMs} ms` +
      (s.window === undefined
        ? ''
        : ` (measured window only: ${((s.window.toUs - s.window.fromUs) / 1e6).toFixed(1)} s)`),
    section('CPU by layer (Node internals charged to the layer that called them):', s.byLayer),
    section('top self time by function:', s.topSelf),
    section('self time by module:', s.selfByModule),
    section('inclusive time by module (CPU spent under it):', s.inclusiveByModule),
  ].join('\n');
}
