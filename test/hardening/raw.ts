/**
 * Low-level HTTP and socket helpers for the hardening tests: requests with arbitrary methods,
 * headers and bodies (fetch refuses some of them), and raw SSE sockets that cost one file
 * descriptor and no parser until asked.
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Give up after this many ms (default 5000). */
  timeoutMs?: number;
}

/** One request on its own connection; resolves with status, headers and the whole body. */
export function rawRequest(base: string, r: RawRequest): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: Number(u.port),
        method: r.method ?? 'GET',
        path: r.path,
        headers: r.headers ?? {},
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`request ${r.method ?? 'GET'} ${r.path.slice(0, 80)} timed out`));
    }, r.timeoutMs ?? 5000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(r.body);
  });
}

/** Parses a JSON body, or `undefined` when it is not JSON. */
export function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** True when `r` is a contract error: JSON `{error, message}` strings and no stack trace. */
export function isJsonError(r: RawResponse): boolean {
  const ct = String(r.headers['content-type'] ?? '');
  const b = jsonOf(r.body);
  if (!ct.startsWith('application/json') || typeof b !== 'object' || b === null) return false;
  const { error, message } = b as { error?: unknown; message?: unknown };
  return typeof error === 'string' && typeof message === 'string' && !/\bat .*:\d+:\d+/.test(r.body);
}

/**
 * A raw `GET /events` over a plain socket. Bytes are kept as text; `ids()` and `events()` parse
 * lazily. `pause()` stops reading, so the kernel's window fills and the server's output queues.
 */
export class RawSse {
  text = '';
  /** The last 4,000 characters received: cheap to test on every chunk, unlike `text`. */
  tail = '';
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      this.text += c;
      this.tail = (this.tail + c).slice(-4000);
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number, path: string, headers: Record<string, string> = {}): Promise<RawSse> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        const extra = Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`);
        resolve(new RawSse(socket));
      });
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds, or rejects after `ms`. */
  waitUntil(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          reject(new Error(`socket closed while waiting for ${what}`));
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** The HTTP status of the response, once its head has arrived. */
  get status(): number {
    const m = /^HTTP\/1\.1 (\d{3})/.exec(this.text);
    return m ? Number(m[1]) : 0;
  }

  /** Complete SSE blocks after the response head (chunked framing stripped crudely: sizes ignored). */
  blocks(): { id?: string; event?: string; data?: string }[] {
    const start = this.text.indexOf('\r\n\r\n');
    if (start < 0) return [];
    const out: { id?: string; event?: string; data?: string }[] = [];
    const lines = this.text.slice(start + 4).split('\n');
    let b: { id?: string; event?: string; data?: string } = {};
    let complete = 0;
    for (let i = 0; i < lines.length - 1; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line === '') {
        if (b.id !== undefined || b.data !== undefined || b.event !== undefined) out.push(b);
        b = {};
        complete = out.length;
        continue;
      }
      if (/^[0-9a-f]+$/.test(line)) continue; // chunk size line
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id' || field === 'event' || field === 'data') b[field] = value;
    }
    return out.slice(0, complete);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}
