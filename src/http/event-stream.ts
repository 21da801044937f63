import type { Response } from 'express';

/**
 * A Server-Sent Events response written by hand: `text/event-stream`, no caching or proxy
 * buffering, a `retry:` hint for reconnecting clients, and a `: keepalive` comment at an interval
 * so idle proxies keep the connection open. `close()` stops the timer and ends the response.
 */
export class EventStream {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: Response,
    private readonly opts: { retryMs: number; keepAliveMs: number },
  ) {}

  /** Sends the status and headers at once, then the retry hint. */
  open(): void {
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache');
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
    this.write(`retry: ${this.opts.retryMs}\n\n`);
    this.timer = setInterval(() => {
      this.write(': keepalive\n\n');
    }, this.opts.keepAliveMs);
    this.timer.unref();
  }

  /**
   * Writes one event; `data` is JSON on a single line, so it needs no line splitting. Without
   * `id` no id line is written (an empty one would reset the client's Last-Event-ID).
   */
  send(event: string, id: string | undefined, data: unknown): void {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    this.write(`event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`);
  }

  private write(chunk: string): void {
    if (!this.res.destroyed && !this.res.writableEnded) this.res.write(chunk);
  }

  /** Stops the keepalive comments and ends the response (idempotent). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.res.writableEnded) this.res.end();
  }
}
