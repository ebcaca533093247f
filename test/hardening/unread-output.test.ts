/**
 * Issue 16.3: output to clients that never read is bounded like live output. A real server
 * process is filled with a history of large messages; N raw sockets then resume from an old id
 * or poll an old cursor and never read. The process's RSS must stay within N × MAX_BUFFERED_BYTES
 * plus a stated margin (before: every answer held its whole replay, ~6 MB each, for as long as
 * the socket stayed open). Then a client that reads, resuming the same way, gets every message
 * once and in order, and an answered-but-unread poll counts against the connection limits until
 * its bytes are gone.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { poll, pubToken, type SpawnedServer, spawnServer, subToken } from '../helpers.js';
import { RawSse } from './raw.js';

/** Resident set of a process, in bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const MiB = 1024 * 1024;
const KiB = 1024;
/** Per-connection bound the server runs with. */
const BUFFERED = 256 * KiB;
/** Size of each message's data: 100 of them are ~6 MB, the answers. */
const DATA = 60_000;
/**
 * Stated margin over N × MAX_BUFFERED_BYTES for what else a process grows by while serving N
 * sockets (V8 heap headroom, garbage of answers not yet collected, socket objects).
 */
const MARGIN = 64 * MiB;

/** Pushes `n` messages of `size` bytes to `uid`, a few per request; returns their ids in order. */
async function fill(url: string, uid: string, n: number, size = DATA): Promise<string[]> {
  const pub = pubToken();
  const ids: string[] = [];
  for (let i = 0; i < n; i += 10) {
    const body = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
      to: uid,
      data: `${String(i + j).padStart(6, '0')}${'x'.repeat(size - 6)}`,
    }));
    const res = await fetch(`${url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    for (const r of (await res.json()) as { id: string }[]) ids.push(r.id);
  }
  return ids;
}

/** A raw `GET` that is sent and then never read: the kernel's window fills and output queues. */
function unreadGet(port: number, path: string): Promise<{ socket: Socket; got: () => number }> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      resolve({ socket, got: () => got });
    });
    // Reads only the first chunk (the answer has started), then stops reading for good.
    socket.once('data', (c: Buffer) => {
      got = c.length;
      socket.pause();
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** Samples `f` every 50 ms until `done` holds (or `ms` passed); resolves with the largest sample. */
async function peakWhile(f: () => number, done: () => boolean, ms: number): Promise<number> {
  let peak = f();
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    peak = Math.max(peak, f());
  }
  // And a little longer: answers may still be growing after their first bytes left.
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50));
    peak = Math.max(peak, f());
  }
  return peak;
}

describe.skipIf(process.platform !== 'linux')('output to clients that never read (16.3)', () => {
  let server: SpawnedServer | undefined;
  const sockets: { destroy(): unknown }[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.stop();
    server = undefined;
  });

  it('N non-reading old-cursor polls hold at most N × MAX_BUFFERED_BYTES + 64 MiB', async () => {
    const N = 60;
    server = await spawnServer({
      MAX_BUFFERED_BYTES: String(BUFFERED),
      MAX_CONNECTIONS_PER_UID: '0',
      LOG_LEVEL: 'info',
    });
    const pid = server.proc.pid!;
    const ids = await fill(server.url, 'big', 100);
    const token = subToken('big');
    const cursor = ids[0]!;
    const base = rss(pid);
    const opened: { got: () => number }[] = [];
    for (let i = 0; i < N; i++) {
      const u = await unreadGet(server.port, `/poll?token=${token}&cursor=${encodeURIComponent(cursor)}`);
      sockets.push(u.socket);
      opened.push(u);
    }
    const peak = await peakWhile(
      () => rss(pid),
      () => opened.every((o) => o.got() > 0),
      20_000,
    );
    expect(opened.every((o) => o.got() > 0)).toBe(true);
    expect(peak - base).toBeLessThanOrEqual(N * BUFFERED + MARGIN);

    // A reading client walking the same backlog gets all of it, once, in order, in small answers.
    const seen: string[] = [];
    let at = cursor;
    for (let i = 0; i < 200 && seen.length < 99; i++) {
      const a = await poll(server.url, token, at);
      expect(a.reset).toBeUndefined();
      expect(a.messages.length).toBeGreaterThan(0);
      expect(a.messages.length * DATA).toBeLessThanOrEqual(Math.max(BUFFERED, 64 * KiB));
      for (const m of a.messages) seen.push(m.id);
      at = a.cursor;
    }
    expect(seen).toEqual(ids.slice(1));
  }, 120_000);

  it('N non-reading SSE resumes from an old id hold at most N × MAX_BUFFERED_BYTES + 64 MiB', async () => {
    const N = 40;
    server = await spawnServer({
      MAX_BUFFERED_BYTES: String(BUFFERED),
      MAX_CONNECTIONS_PER_UID: '0',
      HISTORY_SIZE: '400',
      LOG_LEVEL: 'info',
    });
    const pid = server.proc.pid!;
    const ids = await fill(server.url, 'big', 300);
    const path = `/events?token=${subToken('big')}`;
    const base = rss(pid);
    const streams: RawSse[] = [];
    for (let i = 0; i < N; i++) {
      const s = await RawSse.open(server.port, path, { 'Last-Event-ID': ids[0]! });
      s.pause();
      sockets.push(s.socket);
      streams.push(s);
    }
    // Each has its head and some replay; none reads the rest (18 MB each).
    const peak = await peakWhile(
      () => rss(pid),
      () => streams.every((s) => s.status === 200),
      20_000,
    );
    expect(peak - base).toBeLessThanOrEqual(N * BUFFERED + MARGIN);

    // Live messages published meanwhile queue behind the paged replay and follow it exactly.
    const reader = await RawSse.open(server.port, path, { 'Last-Event-ID': ids[0]! });
    sockets.push(reader.socket);
    // Small ones: a burst of large live messages would pass the live bound, as it should.
    const live = await fill(server.url, 'big', 20, 100);
    const want = [...ids.slice(1), ...live];
    const last = want[want.length - 1]!;
    // Checked every 100 ms, not per chunk: the text is ~20 MB.
    for (let i = 0; i < 600 && !reader.text.includes(`id:${last}\n`) && !reader.ended; i++)
      await new Promise((r) => setTimeout(r, 100));
    const got = reader
      .blocks()
      .filter((b) => b.data !== undefined)
      .map((b) => b.id);
    expect(got).toEqual(want);
  }, 180_000);

  it('an answered poll that is not read counts against MAX_CONNECTIONS_PER_UID until its bytes are gone', async () => {
    // Answers as large as the (6 MB): more than the kernel takes from a socket.
    server = await spawnServer({
      MAX_BUFFERED_BYTES: String(16 * MiB),
      MAX_CONNECTIONS_PER_UID: '2',
      LOG_LEVEL: 'info',
    });
    const ids = await fill(server.url, 'held', 100);
    const token = subToken('held');
    const path = `/poll?token=${token}&cursor=${encodeURIComponent(ids[0]!)}`;
    const held: Socket[] = [];
    const answered: (() => number)[] = [];
    for (let i = 0; i < 2; i++) {
      const u = await unreadGet(server.port, path);
      sockets.push(u.socket);
      held.push(u.socket);
      answered.push(u.got);
    }
    for (let i = 0; i < 400 && !answered.every((got) => got() > 0); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(answered.every((got) => got() > 0)).toBe(true);
    const third = await fetch(`${server.url}${path}`);
    expect(third.status).toBe(429);
    await third.arrayBuffer();
    // Once the unread sockets are gone, the uid may connect again.
    for (const s of held) s.destroy();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await fetch(`${server.url}${path}`);
      status = r.status;
      await r.arrayBuffer();
    }
    expect(status).toBe(200);
  }, 60_000);

  it('closes sockets whose client stops reading once no write completed for WRITE_STALL_SECONDS', async () => {
    server = await spawnServer({
      WRITE_STALL_SECONDS: '1',
      HEARTBEAT_SECONDS: '1',
      MAX_BUFFERED_BYTES: String(16 * MiB),
      MAX_CONNECTIONS_PER_UID: '1',
      LOG_LEVEL: 'info',
    });
    const pollIds = await fill(server.url, 'p', 100);
    const streamIds = await fill(server.url, 's', 100);
    const pollPath = `/poll?token=${subToken('p')}&cursor=${encodeURIComponent(pollIds[0]!)}`;
    const u = await unreadGet(server.port, pollPath);
    sockets.push(u.socket);
    const stream = await RawSse.open(server.port, `/events?token=${subToken('s')}`, {
      'Last-Event-ID': streamIds[0]!,
    });
    stream.pause();
    sockets.push(stream.socket);
    for (let i = 0; i < 400 && !(u.got() > 0 && stream.status === 200); i++)
      await new Promise((r) => setTimeout(r, 25));
    const online = async () => {
      const r = await fetch(`${server!.url}/online?uid=s`, {
        headers: { authorization: `Bearer ${pubToken()}` },
      });
      return ((await r.json()) as { online: Record<string, number> }).online.s;
    };
    // Neither reads; the server closes both (the stream after three 1 s heartbeats' worth): the
    // unread answer no longer holds the uid's only slot, the stream is gone from presence.
    let pollStatus = 0;
    let streams = 1;
    for (let i = 0; i < 300 && (pollStatus !== 200 || streams !== 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await fetch(`${server.url}${pollPath}`);
      pollStatus = r.status;
      await r.arrayBuffer();
      streams = (await online()) ?? 0;
    }
    expect(pollStatus).toBe(200);
    expect(streams).toBe(0);
  }, 60_000);
});
