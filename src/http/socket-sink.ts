import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SseSink } from '../connection.js';

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
 * head goes out corked with the first write (one system call for head, `retry:` and `id:`), so
 * the bytes stay in order; `end()` goes through the response, which
 * writes the last chunk after ours. A class, not closures: thousands of these live at once.
 */
class SocketSink implements SseSink {
  constructor(
    private readonly res: ServerResponse,
    private readonly socket: Socket,
  ) {}

  /** False until the first write, which sends the response head with it in one system call. */
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

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }
}

/**
 * The sink of a stream whose head was just written (and is sent with the first write): its
 * socket when chunked, else the response.
 */
export function socketSink(res: ServerResponse): SseSink {
  const socket = res.socket;
  return socket && res.chunkedEncoding ? new SocketSink(res, socket) : res;
}
