/**
 * SIGTERM with 1,000 connected clients, waiting polls and pushes in flight: streams end cleanly
 * (a proper end of the chunked body, so clients reconnect rather than see an error), polls are
 * answered 200 with their cursor, in-flight pushes get 200 or 503, and the process exits 0
 * within SHUTDOWN_TIMEOUT_SECONDS. A restarted in-memory server has a new epoch, so resuming
 * clients get `reset`.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { parseId } from '../../src/ids.js';
import { openEvents, poll, pubToken, type SpawnedServer, spawnServer, subToken } from '../helpers.js';
import { jsonOf, RawSse, rawRequest } from './raw.js';

const CLIENTS = 1000;
const POLLS = 20;
const PUSHES = 20;
const SHUTDOWN_TIMEOUT_SECONDS = 5;

/** A push whose head and half its body are sent now; `finish()` sends the rest. */
function slowPush(port: number): { finish(): void; answer: Promise<number> } {
  const body = JSON.stringify({ to: 'nobody', data: { x: 'y'.repeat(100) } });
  let finish = () => {};
  const answer = new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/push',
        headers: {
          authorization: `Bearer ${pubToken()}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 20));
    finish = () => req.end(body.slice(20));
  });
  return { finish: () => finish(), answer };
}

describe('SIGTERM', () => {
  const opened: RawSse[] = [];
  let srv: SpawnedServer | undefined;
  afterAll(async () => {
    for (const c of opened) c.close();
    await srv?.stop('SIGKILL');
  });

  it(`drains ${CLIENTS} streams, ${POLLS} waiting polls and in-flight pushes, and exits 0 in time`, async () => {
    srv = await spawnServer({
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      MAX_CONNECTIONS_PER_UID: '0',
    });
    const port = srv.port;
    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          RawSse.open(port, `/events?token=${subToken(`c${(i + j) % 250}`)}`),
        ),
      );
      opened.push(...batch);
    }
    for (const c of opened) await c.waitUntil(() => /\nid:\S+\n\n/.test(c.text), 10_000, 'initial id');
    const position = /\nid:(\S+)\n\n/.exec(opened[0]!.text)![1]!;

    const polls = Array.from({ length: POLLS }, (_, i) =>
      rawRequest(srv!.url, {
        path: `/poll?token=${subToken(`p${i}`)}&cursor=${position}&timeout=30`,
        timeoutMs: 20_000,
      }),
    );
    const before = await rawRequest(srv.url, {
      method: 'POST',
      path: '/push',
      headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
      body: '{"to":"nobody","data":1}',
    });
    expect(before.status).toBe(200);
    const inflight = Array.from({ length: PUSHES }, () => slowPush(port));
    // Let the server see every poll and every push head before the signal.
    await new Promise((r) => setTimeout(r, 300));

    const t0 = Date.now();
    const exited = srv.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    for (const p of inflight) p.finish();
    const code = await exited;
    const ms = Date.now() - t0;

    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
    // Every stream ended with the chunked terminator: a clean end, not a reset.
    for (const c of opened) await c.waitUntil(() => c.ended, 5000, 'the stream to end');
    const clean = opened.filter((c) => c.text.endsWith('\r\n0\r\n\r\n')).length;
    expect(clean).toBe(CLIENTS);
    // Waiting polls were answered 200 with their cursor: nothing arrived for them.
    for (const p of await Promise.all(polls)) {
      expect(p.status).toBe(200);
      expect(jsonOf(p.body)).toEqual({ messages: [], cursor: position });
    }
    // Pushes caught mid-request were refused cleanly: 503, never an error status or a reset.
    const statuses = await Promise.all(inflight.map((p) => p.answer));
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(503);
    console.log(
      `SIGTERM: ${CLIENTS} streams + ${POLLS} polls + ${PUSHES} pushes drained, exit ${code} after ${ms} ms; push answers ${JSON.stringify(statuses)}`,
    );
  }, 60_000);

  it('a restarted in-memory server has a new epoch: resuming clients get a reset', async () => {
    const first = await spawnServer();
    const c = await openEvents(first.url, subToken('r'));
    const start = await c.waitForId();
    await fetch(`${first.url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
      body: '{"to":"r","data":1}',
    });
    await c.waitForEvents(1);
    const lastId = c.lastId!;
    expect(await first.stop()).toBe(0);
    await c.waitUntil(() => c.closed, 5000, 'the stream to end');

    const second = await spawnServer();
    try {
      const again = await openEvents(second.url, subToken('r'), lastId);
      await again.waitForEvents(1);
      expect(again.events[0]!.event).toBe('reset');
      expect(JSON.parse(again.events[0]!.data)).toEqual({ reason: 'epoch_changed' });
      const newId = again.events[0]!.id!;
      expect(parseId(newId)!.epoch).not.toBe(parseId(start)!.epoch);
      again.close();
      const p = await poll(second.url, subToken('r'), lastId, 1);
      expect(p).toMatchObject({ messages: [], reset: true });
      expect(parseId(p.cursor)!.epoch).toBe(parseId(newId)!.epoch);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
