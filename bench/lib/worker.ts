/**
 * A lean SSE load client, run as a forked child process: raw `net` sockets to 127.0.0.1, a
 * hand-written HTTP/1.1 response reader (chunked or not) and a minimal SSE line parser. It
 * records when each benchmark message reached each connection; the coordinator does the maths.
 * Driven by `Command`s over IPC; exits when the coordinator goes away or after its lifetime.
 */
import net from 'node:net';
import { now } from './measure.js';
import type { Command, ConnSpec, Reply } from './protocol.js';

/** Hard bound on a worker's life, whatever happens to the coordinator. */
const MAX_LIFETIME_MS = 30 * 60_000;

class Conn {
  sock: net.Socket | null = null;
  head: string | null = '';
  status = 0;
  chunked = false;
  chunkState = 0;
  chunkLeft = 0;
  sizeLine = '';
  line = '';
  data = '';
  event = '';
  lastId = '';
  /** Distinct storm messages received since resuming; `null` outside the storm. */
  got: Set<string> | null = null;
  done = false;
  constructor(
    readonly spec: ConnSpec,
    readonly index: number,
  ) {}
}

const conns: Conn[] = [];
let recv = new Map<string, number[]>();
let closedUnexpectedly = 0;
let resets = 0;
let dropping = false;
let stormExpect = 0;
let stormDups = 0;
let stormDone: number[] = [];
let onStormProgress: (() => void) | null = null;

function send(r: Reply): void {
  process.send?.(r);
}

function onEvent(c: Conn, event: string, data: string, t: number): void {
  if (event === 'reset') {
    resets++;
    return;
  }
  if (data.charCodeAt(0) !== 123 /* { */) return;
  let p: { k?: unknown; n?: unknown };
  try {
    p = JSON.parse(data) as { k?: unknown; n?: unknown };
  } catch {
    return;
  }
  if (typeof p.k !== 'string' || typeof p.n !== 'number') return;
  const key = `${p.k}:${p.n}`;
  if (c.got) {
    if ((p.k !== 's' && p.k !== 't') || c.got.has(key)) {
      stormDups++;
      return;
    }
    c.got.add(key);
    if (c.got.size === stormExpect && !c.done) {
      c.done = true;
      stormDone.push(t);
      onStormProgress?.();
    }
    return;
  }
  let times = recv.get(key);
  if (!times) {
    times = [];
    recv.set(key, times);
  }
  times.push(t);
}

/** Feeds decoded body text (latin1: one char per byte; payloads are ASCII) to the SSE parser. */
function feedSse(c: Conn, s: string, t: number): void {
  let text = c.line + s;
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    let end = nl;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    if (end === start) {
      if (c.data !== '') onEvent(c, c.event, c.data, t);
      c.data = '';
      c.event = '';
    } else {
      const colon = text.indexOf(':', start);
      if (colon !== start && colon >= 0 && colon < end) {
        const field = text.slice(start, colon);
        let v = colon + 1;
        if (text.charCodeAt(v) === 32) v++;
        const value = text.slice(v, end);
        if (field === 'data') c.data = c.data === '' ? value : `${c.data}\n${value}`;
        else if (field === 'id') c.lastId = value;
        else if (field === 'event') c.event = value;
      }
    }
    start = nl + 1;
  }
  text = text.slice(start);
  c.line = text;
}

function feedBody(c: Conn, s: string, t: number): void {
  if (!c.chunked) {
    feedSse(c, s, t);
    return;
  }
  let i = 0;
  while (i < s.length) {
    if (c.chunkState === 0) {
      const nl = s.indexOf('\n', i);
      if (nl < 0) {
        c.sizeLine += s.slice(i);
        return;
      }
      const size = Number.parseInt((c.sizeLine + s.slice(i, nl)).trim(), 16);
      c.sizeLine = '';
      i = nl + 1;
      if (!(size > 0)) return; // last chunk: the server ended the stream
      c.chunkLeft = size;
      c.chunkState = 1;
    } else if (c.chunkState === 1) {
      const take = Math.min(c.chunkLeft, s.length - i);
      feedSse(c, s.substr(i, take), t);
      i += take;
      c.chunkLeft -= take;
      if (c.chunkLeft === 0) c.chunkState = 2;
    } else {
      const nl = s.indexOf('\n', i);
      if (nl < 0) return;
      i = nl + 1;
      c.chunkState = 0;
    }
  }
}

function request(c: Conn): string {
  const resume = c.lastId !== '' && c.got ? `Last-Event-ID: ${c.lastId}\r\n` : '';
  return `GET ${c.spec.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${resume}\r\n`;
}

/** Connects one subscription; resolves with the HTTP status (0 on failure) once the head arrived. */
function connect(c: Conn, host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    c.head = '';
    c.status = 0;
    c.chunkState = 0;
    c.chunkLeft = 0;
    c.sizeLine = '';
    c.line = '';
    c.data = '';
    c.event = '';
    let settled = false;
    const settle = (status: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(status);
    };
    const sock = net.connect({ host, port, localAddress, noDelay: true });
    c.sock = sock;
    const timer = setTimeout(() => {
      sock.destroy();
      settle(0);
    }, timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(request(c)));
    sock.on('data', (s: string) => {
      const t = now();
      if (c.head !== null) {
        c.head += s;
        const end = c.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = c.head.slice(0, end);
        const rest = c.head.slice(end + 4);
        c.head = null;
        c.status = Number(head.slice(9, 12));
        c.chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        settle(c.status);
        if (rest) feedBody(c, rest, t);
        return;
      }
      feedBody(c, s, t);
    });
    sock.on('error', () => settle(0));
    sock.on('close', () => {
      settle(0);
      if (c.sock === sock) {
        c.sock = null;
        if (!dropping && c.status === 200) closedUnexpectedly++;
      }
    });
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

function cutAll(): void {
  dropping = true;
  for (const c of conns) {
    const s = c.sock;
    c.sock = null;
    if (s && !s.destroyed) s.resetAndDestroy();
  }
  dropping = false;
}

async function handle(cmd: Command): Promise<void> {
  switch (cmd.type) {
    case 'open': {
      const started = now();
      const statuses: Record<string, number> = {};
      let ok = 0;
      const fresh = cmd.conns.map((spec, i) => new Conn(spec, conns.length + i));
      conns.push(...fresh);
      await pool(fresh, cmd.concurrency, async (c) => {
        const st = await connect(c, cmd.host, cmd.port, cmd.timeoutMs);
        statuses[st] = (statuses[st] ?? 0) + 1;
        if (st === 200) ok++;
      });
      send({ type: 'opened', ok, failed: fresh.length - ok, statuses, ms: now() - started });
      return;
    }
    case 'collect': {
      send({ type: 'collected', recv: Object.fromEntries(recv), closed: closedUnexpectedly, resets });
      recv = new Map();
      resets = 0;
      return;
    }
    case 'drop': {
      cutAll();
      send({ type: 'dropped' });
      return;
    }
    case 'resume': {
      stormExpect = cmd.expect;
      stormDups = 0;
      stormDone = [];
      resets = 0;
      let noId = 0;
      for (const c of conns) {
        c.got = new Set();
        c.done = false;
        if (c.lastId === '') noId++;
      }
      const all = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, cmd.timeoutMs);
        onStormProgress = () => {
          if (stormDone.length === conns.length) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
      let failed = 0;
      await pool(conns, cmd.concurrency, async (c) => {
        if ((await connect(c, '127.0.0.1', port, cmd.timeoutMs)) !== 200) failed++;
      });
      if (stormDone.length < conns.length) await all;
      onStormProgress = null;
      let lost = 0;
      for (const c of conns) lost += Math.max(0, stormExpect - (c.got?.size ?? 0));
      for (const c of conns) c.got = null;
      send({
        type: 'resumed',
        caughtUp: stormDone.length,
        doneAt: stormDone,
        lost,
        duplicates: stormDups,
        resets,
        failed,
        noId,
      });
      return;
    }
    case 'close': {
      cutAll();
      send({ type: 'closed' });
      setTimeout(() => process.exit(0), 50);
      return;
    }
  }
}

let port = 0;
let localAddress = '127.0.0.1';
process.on('message', (cmd: Command) => {
  if (cmd.type === 'open') {
    port = cmd.port;
    localAddress = cmd.localAddress;
  }
  handle(cmd).catch((err: unknown) => {
    process.stderr.write(`bench worker: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => {
  cutAll();
  process.exit(0);
});
setTimeout(() => process.exit(2), MAX_LIFETIME_MS).unref();
