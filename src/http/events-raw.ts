import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import type { Auth } from '../auth.js';
import type { SseSink } from '../connection.js';
import { unavailable } from '../errors.js';
import type { Hub } from '../hub.js';
import type { Logger } from '../logger.js';
import { sendRawError } from './raw.js';
import { SSE_HEADERS } from './subscribe.js';
import { resumeIdOf, tokenOf } from './token.js';

export interface RawEventsDeps {
  readonly auth: Auth;
  readonly hub: Hub;
  readonly log: Logger;
}

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

  write(text: string): boolean {
    return this.socket.write(chunk(text));
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

function socketSink(res: ServerResponse): SseSink {
  res.flushHeaders();
  const socket = res.socket;
  return socket && res.chunkedEncoding ? new SocketSink(res, socket) : res;
}

/**
 * `GET /events` served straight from `node:http`, ahead of Express. A stream lives for hours, and
 * Express's per-request state (prototype swaps, parsed URL, router closures) was a third of its
 * memory and most of the CPU of opening it. Same checks in the same order, same headers and
 * the same JSON errors as the Express route in `subscribe.ts` (which still serves `HEAD` and
 * non-canonical paths such as `/events/`). Returns false for every other request.
 */
export function rawEvents(
  { auth, hub, log }: RawEventsDeps,
  headers: (req: IncomingMessage, res: ServerResponse) => void,
) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== '/events') return false;
    headers(req, res);
    try {
      if (!hub.isAccepting) throw unavailable('server is shutting down', 'shutting_down');
      const r = { headers: req.headers, query: q < 0 ? {} : parseQuery(url.slice(q + 1)) };
      const sub = auth.subscriber(tokenOf(r));
      hub.admit(sub);
      const resumeId = resumeIdOf(r);
      req.socket.setNoDelay(true);
      req.socket.setTimeout(0);
      res.writeHead(200, SSE_HEADERS);
      const conn = hub.openStream(sub, socketSink(res), resumeId);
      res.on('close', () => hub.closeStream(conn));
      if (req.socket.destroyed) hub.closeStream(conn);
    } catch (err) {
      sendRawError(res, err, log);
    }
    return true;
  };
}
