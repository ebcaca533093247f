/** Three ssepush processes on one real redis-server behave as one push server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, poll, pubToken, type SpawnedServer, type SseClient, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually, onlineOn, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`cluster: three nodes on one Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let nodes: SpawnedServer[] = [];
  const clients: SseClient[] = [];
  const track = (c: SseClient) => {
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    nodes = await spawnNodes(3, redis.url);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAll(nodes);
    await redis?.close();
  });

  it('a push on A reaches SSE clients on B and C and a long-poll on C, once each', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('x1');
    const sb = track(await openEvents(b.url, tok));
    const sc = track(await openEvents(c.url, tok));
    await sb.waitForId();
    const cursor = await sc.waitForId();
    const waiting = poll(c.url, tok, cursor, 10);
    await eventually(async () => (await onlineOn(a, 'x1')) === 3, 2000, 'presence of 3 connections');
    const r = await pushTo(a, { to: 'x1', data: { hello: 'cluster' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ online: true, delivered: 3 });
    await sb.waitForEvents(1);
    await sc.waitForEvents(1);
    const p = await waiting;
    for (const ev of [sb.events[0]!, sc.events[0]!]) {
      expect(ev.id).toBe(r.body.id);
      expect(JSON.parse(ev.data)).toEqual({ hello: 'cluster' });
    }
    expect(p.messages.map((m) => m.id)).toEqual([r.body.id]);
    await new Promise((res) => setTimeout(res, 200));
    expect(sb.events).toHaveLength(1);
    expect(sc.events).toHaveLength(1);
  });

  it('a client that drops from A resumes on B without loss or duplicate', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('y1', { groups: ['gy'] });
    const first = track(await openEvents(a.url, tok));
    await first.waitForId();
    for (let i = 1; i <= 3; i++) expect((await pushTo(c, { to: 'y1', data: { i } })).status).toBe(200);
    await first.waitForEvents(3);
    first.close();
    const missed: string[] = [];
    for (let i = 4; i <= 6; i++) {
      const r = await pushTo(a, i % 2 ? { to: 'y1', data: { i } } : { group: 'gy', data: { i } });
      missed.push(r.body.id!);
    }
    await pushTo(a, { to: 'someone-else', data: {} });
    const second = track(await openEvents(b.url, tok, first.lastId));
    await second.waitForEvents(3);
    expect(second.events.map((e) => e.id)).toEqual(missed);
    const live = await pushTo(c, { to: 'y1', data: { i: 7 } });
    await second.waitForEvents(4);
    await new Promise((res) => setTimeout(res, 200));
    expect(second.events.map((e) => e.id)).toEqual([...missed, live.body.id]);
    expect(second.events.map((e) => JSON.parse(e.data).i)).toEqual([4, 5, 6, 7]);
  });

  it('concurrent publishers on all nodes: every subscriber sees one identical order', async () => {
    const tokA = subToken('z1', { groups: ['room'] });
    const tokB = subToken('z2', { groups: ['room'] });
    const subs: SseClient[] = [];
    for (const n of nodes) {
      subs.push(track(await openEvents(n.url, tokA)));
      subs.push(track(await openEvents(n.url, tokB)));
    }
    await Promise.all(subs.map((s) => s.waitForId()));
    const PER_NODE = 40;
    const answers = await Promise.all(
      nodes.map(async (n, ni) => {
        const ids: string[] = [];
        for (let i = 0; i < PER_NODE; i++) {
          const body =
            i % 3 === 0 ? { to: ['z1', 'z2'], data: { ni, i } } : { group: 'room', data: { ni, i } };
          const r = await pushTo(n, body);
          expect(r.status).toBe(200);
          ids.push(r.body.id!);
        }
        return ids;
      }),
    );
    const total = PER_NODE * nodes.length;
    await Promise.all(subs.map((s) => s.waitForEvents(total, 10_000)));
    const reference = subs[0]!.events.map((e) => e.id);
    for (const s of subs) expect(s.events.map((e) => e.id)).toEqual(reference);
    expect(new Set(reference)).toEqual(new Set(answers.flat()));
    // Ids are ordered: each publisher's own pushes appear in the order it got its answers.
    for (const ids of answers) {
      const pos = ids.map((id) => reference.indexOf(id));
      expect(pos).toEqual([...pos].sort((x, y) => x - y));
    }
  });

  it('presence is cluster-wide and converges within 2 s of connect and disconnect', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('p1');
    const s1 = track(await openEvents(a.url, tok));
    const s2 = track(await openEvents(b.url, tok));
    await Promise.all([s1.waitForId(), s2.waitForId()]);
    await eventually(async () => (await onlineOn(c, 'p1')) === 2, 2000, 'p1 online twice');
    s1.close();
    await eventually(async () => (await onlineOn(c, 'p1')) === 1, 2000, 'p1 online once');
    const res = await fetch(`${c.url}/online`, { headers: { authorization: `Bearer ${pubToken()}` } });
    const total = (await res.json()) as { uids: number; connections: number };
    expect(total.connections).toBeGreaterThanOrEqual(1);
    expect(total.uids).toBeGreaterThanOrEqual(1);
    s2.close();
    await eventually(async () => (await onlineOn(a, 'p1')) === 0, 2000, 'p1 offline');
  });
});
