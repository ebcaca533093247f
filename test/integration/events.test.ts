import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, pubToken, SseClient, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
const open: SseClient[] = [];
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});
async function connect(token: string, headers: Record<string, string> = {}, query = `token=${token}`) {
  const c = await SseClient.open(`${s.url}/events?${query}`, headers);
  open.push(c);
  return c;
}

describe('GET /events', () => {
  it('answers an SSE stream with anti-buffering headers, retry, then the bare position', async () => {
    const c = await connect(subToken('h1'));
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(c.headers['cache-control']).toBe('no-cache, no-transform');
    expect(c.headers['x-accel-buffering']).toBe('no');
    const id = await c.waitForId();
    expect(c.retry).toBe(2000);
    expect(id).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    expect(c.events).toEqual([]);
  });

  it('takes the token from Authorization, the query or the ssepush_token cookie', async () => {
    const byHeader = await connect('', { authorization: `Bearer ${subToken('t1')}` }, '');
    const byCookie = await connect('', { cookie: `a=b; ssepush_token=${subToken('t2')}` }, '');
    const byQuery = await connect(subToken('t3'));
    await Promise.all([byHeader.waitForId(), byCookie.waitForId(), byQuery.waitForId()]);
    for (const [c, uid] of [
      [byHeader, 't1'],
      [byCookie, 't2'],
      [byQuery, 't3'],
    ] as const) {
      expect(c.status).toBe(200);
      await s.push({ to: uid, data: uid });
      await c.waitForEvents(1);
      expect(c.events.map((e) => JSON.parse(e.data))).toEqual([uid]);
    }
  });

  it('prefers the Authorization header over the query token', async () => {
    const c = await connect(subToken('query-user'), { authorization: `Bearer ${subToken('header-user')}` });
    await c.waitForId();
    await s.push({ to: 'header-user', data: 'h' });
    await c.waitForEvents(1);
    expect(c.events[0]!.data).toBe('"h"');
  });

  it('delivers to the uid, its groups and broadcasts; every tab of a uid receives; others do not', async () => {
    const tab1 = await connect(subToken('alice', { groups: ['team'] }));
    const tab2 = await connect(subToken('alice', { groups: ['team'] }));
    const bob = await connect(subToken('bob'));
    const carol = await connect(subToken('carol', { groups: ['team'] }));
    await Promise.all([tab1, tab2, bob, carol].map((c) => c.waitForId()));

    const a = await s.push({ to: 'alice', event: 'direct', data: { n: 1 } });
    expect(a).toEqual({ status: 200, body: { id: expect.any(String), online: true, delivered: 2 } });
    const g = await s.push({ group: 'team', data: { n: 2 } });
    expect(g.body).toMatchObject({ online: true, delivered: 3 });
    const b = await s.push({ data: { n: 3 } });
    expect((b.body as { delivered: number }).delivered).toBeGreaterThanOrEqual(4);
    // to + group naming the same connection: delivered once.
    const both = await s.push({ to: ['alice', 'bob'], group: 'team', data: { n: 4 } });
    expect(both.body).toMatchObject({ delivered: 4 });

    for (const tab of [tab1, tab2]) {
      await tab.waitForEvents(4);
      expect(tab.events.map((e) => [e.event, JSON.parse(e.data).n])).toEqual([
        ['direct', 1],
        ['message', 2],
        ['message', 3],
        ['message', 4],
      ]);
    }
    await bob.waitForEvents(2);
    await carol.waitForEvents(3);
    expect(bob.events.map((e) => JSON.parse(e.data).n)).toEqual([3, 4]);
    expect(carol.events.map((e) => JSON.parse(e.data).n)).toEqual([2, 3, 4]);
  });

  it('ids increase with each push and match the push answers', async () => {
    const c = await connect(subToken('ids'));
    await c.waitForId();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(((await s.push({ to: 'ids', data: i })).body as { id: string }).id);
    await c.waitForEvents(5);
    expect(c.events.map((e) => e.id)).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
  });

  it('closes the stream when the token expires', async () => {
    const strict = await startServer({ JWT_CLOCK_TOLERANCE_SECONDS: '0' });
    try {
      const c = await openEvents(strict.url, subToken('short', { ttlSec: 1 }));
      await c.waitForId();
      await c.waitUntil(() => c.closed, 4000, 'the stream to close at expiry');
      expect(c.closed).toBe(true);
    } finally {
      await strict.close();
    }
  });

  it('sends a heartbeat comment that also carries the newest position', async () => {
    const fast = await startServer({ HEARTBEAT_SECONDS: '1' });
    try {
      const c = await openEvents(fast.url, subToken('hb'));
      const first = await c.waitForId();
      await fast.push({ to: 'someone-else', data: 1 });
      await c.waitUntil(() => c.comments > 0 && c.lastId !== first, 3000, 'a heartbeat');
      expect(c.events).toEqual([]);
      c.close();
    } finally {
      await fast.close();
    }
  });
});

describe('GET /events, routed', () => {
  it('serves /events/ (trailing slash) as the same stream', async () => {
    const c = await SseClient.open(`${s.url}/events/?token=${subToken('slash')}`);
    open.push(c);
    expect(c.status).toBe(200);
    await c.waitForId();
    await s.push({ to: 'slash', data: 1 });
    await c.waitForEvents(1);
  });

  it('answers HEAD with the stream headers and no stream', async () => {
    const res = await fetch(`${s.url}/events?token=${subToken('head')}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const online = await fetch(`${s.url}/online?uid=head`, {
      headers: { authorization: `Bearer ${pubToken()}` },
    });
    expect(((await online.json()) as { online: Record<string, number> }).online.head).toBe(0);
  });

  it('refuses a token given twice in the query (401)', async () => {
    const t = subToken('twice');
    const res = await fetch(`${s.url}/events?token=${t}&token=${t}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_token', message: expect.any(String) });
  });

  it('resumes from Last-Event-ID given as a header, and resets on a garbage id', async () => {
    const c = await connect(subToken('garbage'), { 'last-event-id': 'nope' });
    await c.waitUntil(() => c.events.some((e) => e.event === 'reset'), 3000, 'a reset');
  });
});
