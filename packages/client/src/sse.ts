/**
 * A Server-Sent Events parser over a fetch body (the WHATWG "event stream" rules: `event`,
 * `data`, `id`, `retry`, comments, and CR, LF or CRLF line ends). Reconnection is the caller's job.
 */
import { SlotlockError } from './errors.js';

/** One dispatched event. `id` is the last event id seen on the stream so far, if any. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  /** Reconnection delay the server asked for, in ms, if it sent one. */
  retryMs: number | undefined;
}

/** Splits text into lines, holding back a trailing partial line (and a lone trailing CR). */
export class LineSplitter {
  private buf = '';

  /** Appends `text` and returns the complete lines it finished. */
  push(text: string): string[] {
    this.buf += text;
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (c === '\r' && i === this.buf.length - 1) break;
      lines.push(this.buf.slice(start, i));
      if (c === '\r' && this.buf[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
    return lines;
  }
}

/** Accumulates fields line by line and dispatches an event at each blank line. */
export class SseParser {
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private retryMs: number | undefined;

  /** Feeds one line; returns the event a blank line completes, if any. */
  line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const { event, data } = this;
    this.event = '';
    this.data = [];
    if (data.length === 0) return undefined;
    return {
      event: event === '' ? 'message' : event,
      data: data.join('\n'),
      id: this.id,
      retryMs: this.retryMs,
    };
  }
}

/**
 * Yields the events of an SSE body until it ends. A failed read becomes a
 * {@link SlotlockError} with code `unreachable` (the connection dropped), so callers can
 * reconnect; a partial event at the end of the stream is dropped, as the standard says.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  const parser = new SseParser();
  try {
    for (;;) {
      const chunk = await readChunk(reader);
      if (chunk === undefined) return;
      for (const line of splitter.push(decoder.decode(chunk, { stream: true }))) {
        const ev = parser.line(line);
        if (ev !== undefined) yield ev;
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

/** The next chunk, or undefined at the end; a failed read becomes an `unreachable` error. */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array | undefined> {
  try {
    const { done, value } = await reader.read();
    return done ? undefined : value;
  } catch (cause) {
    throw new SlotlockError({
      code: 'unreachable',
      status: 0,
      detail: 'the event stream was cut off',
      cause,
    });
  }
}
