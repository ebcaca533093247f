/**
 * Observability without leaks: /metrics carries every figure the issue lists (and moves when
 * things happen), logs are JSON lines with levels, one line per push without payload, stream
 * open/close at debug, and no token ever reaches a log line, whichever way it was sent and
 * whether it was valid or not.
 */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openEvents,
  poll,
  pubToken,
  spawnServer,
  startServer,
  subToken,
  TEST_SECRET,
  type TestServer,
} from '../helpers.js';
import { rawRequest } from './raw.js';

const METRICS = [
  ['ssepush_connections', 'gauge'],
  ['ssepush_uids_online', 'gauge'],
  ['ssepush_poll_waiters', 'gauge'],
  ['ssepush_messages_published_total', 'counter'],
  ['ssepush_messages_delivered_total', 'counter'],
  ['ssepush_messages_replayed_total', 'counter'],
  ['ssepush_resets_total', 'counter'],
  ['ssepush_slow_clients_dropped_total', 'counter'],
  ['ssepush_connections_rejected_total', 'counter'],
  ['ssepush_push_duration_seconds', 'histogram'],
  ['ssepush_event_loop_lag_seconds', 'gauge'],
  // prom-client's default process metrics
  ['process_resident_memory_bytes', 'gauge'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_open_fds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
] as const;

function value(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

describe('/metrics', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ HISTORY_SIZE: '2' });
  });
  afterAll(() => s.close());

  it('exposes every metric with its type', async () => {
    const r = await fetch(`${s.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    for (const [name, type] of METRICS) expect(text, name).toContain(`# TYPE ${name} ${type}`);
  });

  it('moves with connections, pushes, deliveries, replays, resets and waiting polls', async () => {
    const read = async () => (await fetch(`${s.url}/metrics`)).text();
    const a = await openEvents(s.url, subToken('m1'));
    const b = await openEvents(s.url, subToken('m2'));
    const start = await a.waitForId();
    await b.waitForId();
    const waiting = poll(s.url, subToken('m3'), start, 5);
    await new Promise((r) => setTimeout(r, 100));
    let t = await read();
    expect(value(t, 'ssepush_connections')).toBe(2);
    expect(value(t, 'ssepush_poll_waiters')).toBe(1);
    expect(value(t, 'ssepush_uids_online')).toBe(3);

    await s.push([{ data: 1 }, { to: 'm1', data: 2 }, { to: 'm1', data: 3 }, { to: 'm1', data: 4 }]);
    await a.waitForEvents(4);
    await waiting;
    t = await read();
    expect(value(t, 'ssepush_messages_published_total')).toBe(4);
    expect(value(t, 'ssepush_messages_delivered_total')).toBe(4 + 1 + 1);
    expect(value(t, 'ssepush_push_duration_seconds_count')).toBe(1);

    // A resume within the window replays; one past it (HISTORY_SIZE=2) resets.
    const replay = await openEvents(s.url, subToken('m1'), a.events[1]!.id);
    await replay.waitForEvents(2);
    const reset = await openEvents(s.url, subToken('m1'), start);
    await reset.waitForEvents(1);
    t = await read();
    expect(value(t, 'ssepush_messages_replayed_total')).toBe(2);
    expect(value(t, 'ssepush_resets_total')).toBe(1);
    expect(t).toMatch(/ssepush_resets_total\{reason="history_lost"\} 1/);
    for (const c of [a, b, replay, reset]) c.close();
  });
});

describe('logs', () => {
  it('are JSON with levels, one line per push without payload, and never contain a token', async () => {
    const srv = await spawnServer({ LOG_LEVEL: 'debug' });
    const valid = subToken('logged', { groups: ['g'] });
    const pub = pubToken();
    const expired = jwt.sign({ sub: 'old', exp: Math.floor(Date.now() / 1000) - 3600 }, TEST_SECRET);
    const forged = jwt.sign({ sub: 'evil' }, 'not-the-secret-0123456789');
    const secrets = [valid, pub, expired, forged];
    const marker = 'PAYLOAD-MARKER-7f3a';
    try {
      const viaQuery = await openEvents(srv.url, valid);
      await viaQuery.waitForId();
      const h = { authorization: `Bearer ${valid}` };
      const viaHeader = await rawRequest(srv.url, { path: '/poll', headers: h });
      expect(viaHeader.status).toBe(200);
      await rawRequest(srv.url, { path: '/poll', headers: { cookie: `ssepush_token=${valid}` } });
      for (const bad of [expired, forged]) {
        expect((await rawRequest(srv.url, { path: `/events?token=${bad}` })).status).toBe(401);
        expect(
          (await rawRequest(srv.url, { path: '/poll', headers: { authorization: `Bearer ${bad}` } })).status,
        ).toBe(401);
        expect(
          (await rawRequest(srv.url, { path: '/poll', headers: { cookie: `ssepush_token=${bad}` } })).status,
        ).toBe(401);
      }
      const push = (body: string, ct = 'application/json') =>
        rawRequest(srv.url, {
          method: 'POST',
          path: `/push?token=${pub}`,
          headers: { 'content-type': ct },
          body,
        });
      expect((await push(JSON.stringify({ to: 'logged', data: { secret: marker } }))).status).toBe(200);
      expect((await push(JSON.stringify([{ group: 'g', data: marker }, { data: marker }]))).status).toBe(200);
      expect((await push(`to=logged&content=${marker}`, 'application/x-www-form-urlencoded')).status).toBe(
        200,
      );
      expect((await push(`{"data":"${marker}`)).status).toBe(400);
      await viaQuery.waitForEvents(4);
      viaQuery.close();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      expect(await srv.stop()).toBe(0);
    }
    const out = srv.output();
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(typeof r.level).toBe('number');
      expect(typeof r.time).toBe('number');
      expect(typeof r.msg).toBe('string');
    }
    const pushes = records.filter((r) => r.msg === 'push');
    expect(pushes).toHaveLength(4);
    for (const p of pushes) {
      expect(p.level).toBe(30);
      const allowed = [
        'delivered',
        'event',
        'groups',
        'id',
        'level',
        'msg',
        'online',
        'pid',
        'hostname',
        'service',
        'time',
        'to',
      ];
      expect(Object.keys(p).filter((k) => !allowed.includes(k))).toEqual([]);
      expect(p.id).toMatch(/^[A-Za-z0-9]+-\d+$/);
    }
    expect(records.some((r) => r.msg === 'stream opened' && r.level === 20)).toBe(true);
    expect(records.some((r) => r.msg === 'stream closed' && r.level === 20)).toBe(true);
    // No token, no signature, no payload, anywhere in the output.
    for (const t of secrets) {
      expect(out).not.toContain(t);
      expect(out).not.toContain(t.split('.')[2]!);
    }
    expect(out).not.toContain(marker);
  }, 30_000);
});
