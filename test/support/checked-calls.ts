/** HTTP calls whose every response is checked against the published openapi.json. */
import { call } from './app.js';
import type { OpenApiResponses } from './openapi-responses.js';

type CallOptions = NonNullable<Parameters<typeof call>[3]>;
export type CallResult = Awaited<ReturnType<typeof call>>;

/** A `call` bound to one service that checks each response with `spec` before returning it. */
export function checkedCalls(spec: OpenApiResponses, url: () => string) {
  return async (method: string, path: string, opts: CallOptions = {}): Promise<CallResult> => {
    const r = await call(url(), method, path, opts);
    spec.check({
      method,
      path,
      status: r.status,
      contentType: r.headers.get('content-type'),
      body: r.body,
      headers: r.headers,
      requestBody: typeof opts.body === 'string' ? undefined : opts.body,
    });
    return r;
  };
}

/**
 * Opens an SSE stream and returns the first event named `event` (data parsed as JSON), then
 * closes the stream. Bounded by `timeoutMs`.
 */
export async function firstSseEvent(
  url: string,
  event: string,
  timeoutMs = 10_000,
): Promise<{ status: number; contentType: string | null; id: string | undefined; data: unknown }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => {
    ctl.abort(new Error(`no "${event}" event within ${timeoutMs} ms`));
  }, timeoutMs);
  try {
    const res = await fetch(url, { signal: ctl.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body ?? []) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, at).split('\n');
        buffer = buffer.slice(at + 2);
        const field = (name: string) =>
          lines.find(l => l.startsWith(`${name}: `))?.slice(name.length + 2);
        if (field('event') === event) {
          return {
            status: res.status,
            contentType: res.headers.get('content-type'),
            id: field('id'),
            data: JSON.parse(field('data') ?? 'null') as unknown,
          };
        }
      }
    }
    throw new Error(`the stream ended before a "${event}" event`);
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}
