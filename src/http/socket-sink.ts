import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseSink } from '../stream-session.js';

let lastText = '';
let lastChunk = '';

/** `text` as one HTTP/1.1 chunk. A broadcast writes the same frame to every stream: framed once. */
function chunk(text: string): string {
  if (text !== lastText) {
    lastChunk = `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    lastText = text;
  }
  return lastChunk;
}

/**
 * Writes the stream's SSE text straight to its socket, framed as the response's chunks: one
 * socket write per message instead of `ServerResponse.write`'s four buffered pieces with its own
 * cork and next-tick uncork, which per delivered message cost more than the system call. The
 * head is flushed first so the bytes stay in order; `end()` goes through the response, which
 * writes the last chunk after ours. A class, not closures: thousands of these live at once.
 */
class SocketSink implements SseSink {
  constructor(
    private readonly res: ServerResponse,
    private readonly socket: Socket,
  ) {}

  private headSent = false;

  write(text: string): boolean {
    if (this.headSent) return this.socket.write(chunk(text));
    this.headSent = true;
    this.socket.cork();
    this.res.flushHeaders();
    const ok = this.socket.write(chunk(text));
    this.socket.uncork();
    return ok;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  end(): void {
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  onDrained(f: () => void): void {
    whenDrained(this.socket, f);
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }
}

/** The response itself (not chunked: an HTTP/1.0 client), with the drain signal a replay waits for. */
class ResponseSink implements SseSink {
  constructor(private readonly res: ServerResponse) {}

  write(text: string): boolean {
    return this.res.write(text);
  }

  get writableLength(): number {
    return this.res.writableLength;
  }

  end(): void {
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  onDrained(f: () => void): void {
    whenDrained(this.res, f);
  }
}

/**
 * Calls `f` once `w` has handed its queued output to the OS (its 'drain'), or closed; at once
 * when it is not waiting for a drain. A write that did not pass the high-water mark leaves no
 * drain to wait for, and what it queued is below the bound anyway.
 */
function whenDrained(w: Socket | ServerResponse, f: () => void): void {
  if (!w.writableNeedDrain || w.destroyed) {
    f();
    return;
  }
  const done = () => {
    w.off('drain', done);
    w.off('close', done);
    f();
  };
  w.on('drain', done);
  w.on('close', done);
}

/** The sink of a stream whose head was just written: its socket when chunked, else the response. */
export function socketSink(res: ServerResponse): SseSink {
  const socket = res.socket;
  if (socket && res.chunkedEncoding) return new SocketSink(res, socket);
  res.flushHeaders();
  return new ResponseSink(res);
}
