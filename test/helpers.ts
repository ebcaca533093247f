/**
 * Shared test helpers: boot the real server on an ephemeral loopback port, sign tokens, and
 * read SSE streams over real HTTP with a spec-following parser. Every helper returns something
 * with a `close()`; tests close what they open.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import type { Broker } from '../src/broker.js';
import { type Config, loadConfig } from '../src/config.js';
import { SsePushServer } from '../src/server.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface TokenOptions {
  groups?: (string | number)[];
  ttlSec?: number;
  extra?: Record<string, unknown>;
  secret?: string;
}

/** A subscriber token for `sub`, signed with the test secret. */
export function subToken(sub: string | number, opts: TokenOptions = {}): string {
  const payload: Record<string, unknown> = { sub, ...opts.extra };
  if (opts.groups) payload.groups = opts.groups;
  return jwt.sign(payload, opts.secret ?? TEST_SECRET, {
    algorithm: 'HS256',
    ...(opts.ttlSec !== undefined ? { expiresIn: opts.ttlSec } : {}),
  });
}

/** A publisher token (`scope: push`). */
export function pubToken(opts: TokenOptions = {}): string {
  return jwt.sign({ scope: 'push', ...opts.extra }, opts.secret ?? TEST_SECRET, {
    algorithm: 'HS256',
    ...(opts.ttlSec !== undefined ? { expiresIn: opts.ttlSec } : {}),
  });
}

export interface TestServer {
  readonly server: SsePushServer;
  readonly config: Config;
  readonly port: number;
  readonly url: string;
  /** POST /push with a publisher token; resolves with status and parsed JSON body. */
  push(body: unknown): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/**
 * Starts an in-process server on 127.0.0.1:0 with the test secret and quiet logs; `makeBroker`
 * builds a backend from the resolved config (e.g. a Redis broker) instead of the memory one.
 */
export async function startServer(
  env: Record<string, string> = {},
  makeBroker?: (config: Config) => Promise<Broker>,
): Promise<TestServer> {
  const config = loadConfig({
    JWT_SECRET: TEST_SECRET,
    // TEST_LOG_LEVEL=warn (or debug) shows an in-process server's log while debugging a test.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    ...env,
  });
  const server = new SsePushServer(config, makeBroker ? { broker: await makeBroker(config) } : {});
  const port = await server.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const pub = pubToken();
  return {
    server,
    config,
    port,
    url,
    async push(body: unknown) {
      const res = await fetch(`${url}/push`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    close: () => server.close(),
  };
}

/** One parsed SSE event (`data` left as text; the server always sends JSON). */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * A raw SSE client over node:http with a line parser that follows the spec: fields, comments,
 * bare `id:` blocks (they update `lastId` without dispatching), and `retry:`.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** The last event id seen, including bare `id:` blocks, as a browser's EventSource keeps it. */
  lastId: string | undefined;
  status = 0;
  headers: IncomingMessage['headers'] = {};
  retry: number | undefined;
  comments = 0;
  closed = false;
  private buf = '';
  private waiters: (() => void)[] = [];
  private res: IncomingMessage | undefined;
  private req: ReturnType<typeof httpRequest> | undefined;
  private block: { id?: string; event?: string; data: string[] } = { data: [] };
  body = '';

  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient();
    return new Promise((resolve, reject) => {
      c.req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        c.res = res;
        c.status = res.statusCode ?? 0;
        c.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => c.feed(chunk));
        res.on('close', () => {
          c.closed = true;
          c.wake();
        });
        resolve(c);
      });
      c.req.on('error', (err) => {
        c.closed = true;
        c.wake();
        if (!c.res) reject(err);
      });
      c.req.end();
    });
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      this.line(line);
      nl = this.buf.indexOf('\n');
    }
    this.wake();
  }

  private line(line: string): void {
    if (line === '') {
      const b = this.block;
      this.block = { data: [] };
      if (b.id !== undefined) this.lastId = b.id;
      if (b.data.length > 0)
        this.events.push({ id: this.lastId, event: b.event ?? 'message', data: b.data.join('\n') });
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.block.data.push(value);
    else if (field === 'event') this.block.event = value;
    else if (field === 'id' && !value.includes('\0')) this.block.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked after each chunk), or rejects after `ms`. */
  waitUntil(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)}`)),
        ms,
      );
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          pred() ? resolve() : reject(new Error(`stream closed while waiting for ${what}`));
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Waits until at least `n` events have arrived. */
  waitForEvents(n: number, ms = 5000): Promise<SseEvent[]> {
    return this.waitUntil(() => this.events.length >= n, ms, `${n} events`).then(() => this.events);
  }

  /** Waits until the initial position (or replay/reset) has set `lastId`. */
  waitForId(ms = 5000): Promise<string> {
    return this.waitUntil(() => this.lastId !== undefined, ms, 'an id').then(() => this.lastId!);
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
    this.res?.destroy();
  }
}

/** Opens `/events` with a token in the query and an optional `Last-Event-ID`. */
export function openEvents(base: string, token: string, lastEventId?: string): Promise<SseClient> {
  return SseClient.open(
    `${base}/events?token=${encodeURIComponent(token)}`,
    lastEventId ? { 'last-event-id': lastEventId } : {},
  );
}

export interface PollBody {
  messages: { id: string; event: string; data: unknown; time: number }[];
  cursor: string;
  reset?: boolean;
}

/** One `GET /poll`. */
export async function poll(
  base: string,
  token: string,
  cursor?: string,
  timeoutSec?: number,
): Promise<PollBody> {
  const q = new URLSearchParams({ token });
  if (cursor !== undefined) q.set('cursor', cursor);
  if (timeoutSec !== undefined) q.set('timeout', String(timeoutSec));
  const res = await fetch(`${base}/poll?${q}`);
  if (res.status !== 200) throw new Error(`poll answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as PollBody;
}

export interface SpawnedServer {
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
  /** Everything the server has logged so far. */
  output(): string;
  /** Sends a signal (SIGTERM by default) and resolves with the exit code once the process ends. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `src/main.ts` as its own process (through tsx) and waits for its "listening" log line.
 * For tests whose subject is the process: signals, exit codes, Redis clustering, floods. The
 * server logs to a file, not a pipe: under a flood of one-line-per-push logs a pipe the test
 * reads lazily would fill and stall the server's synchronous log writes, which would measure the
 * test harness instead of the server. The log folder goes when the server stops (or fails to start).
 */
export async function spawnServer(
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<SpawnedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-log-'));
  const file = join(dir, 'server.log');
  const fd = openSync(file, 'w');
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, JWT_SECRET: TEST_SECRET, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let final: string | undefined;
  const output = () => final ?? readFileSync(file, 'utf8');
  const end = Date.now() + timeoutMs;
  let port = 0;
  while (port === 0) {
    const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(output());
    if (m) port = Number(m[1]);
    else if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > end) {
      const started = proc.exitCode === null && proc.signalCode === null;
      if (started) proc.kill('SIGKILL');
      await exited;
      const log = output();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        started
          ? `server did not start:\n${log}`
          : `server exited with ${proc.exitCode} before listening:\n${log}`,
      );
    } else await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      final ??= output();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
