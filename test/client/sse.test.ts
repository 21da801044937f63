import { describe, expect, it } from 'vitest';
import { LineSplitter, readSse, SseParser, type SseEvent } from '../../packages/client/src/sse.js';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(enc.encode(c));
      ctl.close();
    },
  });
}

async function collect(chunks: string[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of readSse(streamOf(chunks))) out.push(ev);
  return out;
}

describe('SSE parser', () => {
  it('splits LF, CR and CRLF lines, even with CRLF split across chunks', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb\r')).toEqual(['a']);
    expect(s.push('\nc\rd')).toEqual(['b', 'c']);
    expect(s.push('\r\n')).toEqual(['d']);
  });

  it('dispatches events at blank lines with event name, joined data, id and retry', async () => {
    const events = await collect([
      'retry: 1000\n\n: keepalive\n\n',
      'event: leader\nid: 41\ndata: {"a":',
      '1}\n\ndata: x\ndata:y\n\n',
      'event: leader\ndata: partial',
    ]);
    expect(events).toEqual([
      { event: 'leader', data: '{"a":1}', id: '41', retryMs: 1000 },
      { event: 'message', data: 'x\ny', id: '41', retryMs: 1000 },
    ]);
  });

  it('ignores unknown fields and ids containing NUL', () => {
    const p = new SseParser();
    for (const line of ['foo: bar', 'id: a\0b', 'data']) expect(p.line(line)).toBeUndefined();
    expect(p.line('')).toEqual({ event: 'message', data: '', id: undefined, retryMs: undefined });
  });
});
