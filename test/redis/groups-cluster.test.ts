/**
 * Runtime groups and presence queries on three ssepush processes sharing one real redis-server:
 * a change made through one node moves live connections on every node and is what reconnects on
 * any node see; group counts and uid pages are cluster-wide, each uid once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSse } from '../hardening/raw.js';
import { openEvents, pubToken, type SpawnedServer, type SseClient, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually, onlineOn, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();
const CONTROL = pubToken({ extra: { scope: 'control' } });
const PUSH = pubToken();

async function call(node: { url: string }, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.skipIf(skip !== undefined)(`runtime groups on three nodes${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let nodes: SpawnedServer[] = [];
  const open: { close(): void }[] = [];
  const track = <T extends { close(): void }>(c: T) => {
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    nodes = await spawnNodes(3, redis.url);
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await stopAll(nodes);
    await redis?.close();
  });

  const texts = (c: SseClient) => c.events.map((e) => e.data);

  it('a join via B reaches connections on A and C live, and a reconnect on another node', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('cj');
    const onA = track(await openEvents(a.url, tok));
    const onC = track(await openEvents(c.url, tok));
    await onA.waitForId();
    await onC.waitForId();
    await eventually(async () => (await onlineOn(b, 'cj')) === 2, 3000, 'presence of 2 connections');
    const r = await call(b, 'POST', '/groups', CONTROL, { uid: 'cj', join: 'room-cj' });
    expect(r).toEqual({ status: 200, body: { uids: 1, connections: 2 } });
    // A push made after the answer reaches both nodes after the change (one Redis order).
    expect((await pushTo(b, { group: 'room-cj', data: 'live' })).status).toBe(200);
    await onA.waitForEvents(1);
    await onC.waitForEvents(1);
    expect(texts(onA)).toEqual(['"live"']);
    expect(texts(onC)).toEqual(['"live"']);
    onC.close();
    const moved = track(await openEvents(b.url, tok));
    await moved.waitForId();
    await pushTo(a, { group: 'room-cj', data: 'after-reconnect' });
    await moved.waitForEvents(1);
    expect(texts(moved)).toEqual(['"after-reconnect"']);
  });

  it('a leave via A stops delivery on C at once and is never replayed there', async () => {
    const [a, , c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('cl', { groups: ['room-cl'] });
    const onC = track(await openEvents(c.url, tok));
    const start = await onC.waitForId();
    await pushTo(a, { group: 'room-cl', data: 'member' });
    await onC.waitForEvents(1);
    expect((await call(a, 'POST', '/groups', CONTROL, { uid: 'cl', leave: 'room-cl' })).status).toBe(200);
    await pushTo(a, { group: 'room-cl', data: 'left' });
    await pushTo(a, { to: 'cl', data: 'mark' });
    await onC.waitForEvents(2);
    expect(texts(onC)).toEqual(['"member"', '"mark"']);
    const resumed = track(await openEvents(c.url, tok, start));
    await resumed.waitForEvents(1);
    await resumed.waitUntil(() => resumed.lastId === onC.lastId);
    expect(texts(resumed)).toEqual(['"mark"']);
  });

  it('counts groups and pages through a few thousand uids across nodes, each once', async () => {
    const N = 3000;
    const socks: RawSse[] = [];
    for (let i = 0; i < N; i += 300) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(300, N - i) }, (_, k) => {
          const n = i + k;
          const node = nodes[n % 3]!;
          const token = subToken(`cp-${n}`, { groups: n % 2 === 0 ? ['even'] : [] });
          return RawSse.open(node.port, `/events?token=${token}`);
        }),
      );
      socks.push(...batch.map(track));
    }
    await Promise.all(socks.map((x) => x.waitUntil(() => x.text.includes('\nid:'), 30_000)));
    // Every node answers the same, once every node has written its presence.
    await eventually(
      async () => {
        for (const node of nodes) {
          const r = await call(node, 'GET', '/online?group=even', PUSH);
          const g = (r.body.groups as Record<string, { uids: number; connections: number }>).even!;
          if (g.uids !== N / 2 || g.connections !== N / 2) return false;
        }
        return true;
      },
      10_000,
      'group counts on every node',
    );
    const walk = async (node: SpawnedServer, q: string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 1000; pages++) {
        const path = `/online/uids?limit=1000${q}${cursor ? `&cursor=${cursor}` : ''}`;
        const r = await call(node, 'GET', path, PUSH);
        expect(r.status).toBe(200);
        const uids = r.body.uids as string[];
        expect(uids.length).toBeLessThanOrEqual(1000);
        out.push(...uids);
        cursor = r.body.cursor as string | null;
        if (cursor === null) return out;
      }
      throw new Error('walk did not end');
    };
    const all = (await walk(nodes[0]!, '')).filter((u) => u.startsWith('cp-'));
    expect(all.length).toBe(N);
    expect(new Set(all).size).toBe(N);
    const even = await walk(nodes[1]!, '&group=even');
    expect(even.length).toBe(N / 2);
    expect(new Set(even).size).toBe(N / 2);
    // A runtime leave takes uids out of the group's pages on every node.
    const leavers = Array.from({ length: 100 }, (_, i) => `cp-${2 * i}`);
    expect((await call(nodes[2]!, 'POST', '/groups', CONTROL, { uid: leavers, leave: 'even' })).body).toEqual(
      {
        uids: 100,
        connections: 100,
      },
    );
    await eventually(
      async () => (await walk(nodes[0]!, '&group=even')).length === N / 2 - 100,
      5000,
      'leave seen',
    );
    for (const x of socks) x.close();
  }, 120_000);
});
