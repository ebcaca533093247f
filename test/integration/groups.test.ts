/**
 * Runtime groups and presence queries over real HTTP on the memory backend: POST /groups moves
 * live connections at once and is kept for reconnects; a group left is never replayed;
 * GET /online?group= and GET /online/uids; scopes; every bad input is a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSse } from '../hardening/raw.js';
import {
  openEvents,
  poll,
  pubToken,
  type SseClient,
  startServer,
  subToken,
  type TestServer,
} from '../helpers.js';

const CONTROL = pubToken({ extra: { scope: 'control' } });
const PUSH = pubToken();

let s: TestServer;
const open: { close(): void }[] = [];
beforeAll(async () => {
  s = await startServer({ MAX_GROUPS_PER_TOKEN: '8', MAX_CONNECTIONS_PER_UID: '0' });
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});

async function call(
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const groups = (body: unknown) => call('POST', '/groups', CONTROL, body);

async function stream(uid: string, tokenGroups: string[] = [], lastId?: string): Promise<SseClient> {
  const c = await openEvents(s.url, subToken(uid, { groups: tokenGroups }), lastId);
  open.push(c);
  await c.waitForId();
  return c;
}

describe('POST /groups', () => {
  it('a join delivers the group live at once, and after a reconnect', async () => {
    const c = await stream('j1');
    expect(await groups({ uid: 'j1', join: 'room-j' })).toEqual({
      status: 200,
      body: { uids: 1, connections: 1 },
    });
    const r = await s.push({ group: 'room-j', data: { text: 'hello' } });
    expect(r.body).toMatchObject({ delivered: 1 });
    await c.waitForEvents(1);
    expect(c.events[0]!.data).toBe('{"text":"hello"}');
    c.close();
    const again = await stream('j1');
    await s.push({ group: 'room-j', data: { text: 'again' } });
    await again.waitForEvents(1);
    expect(again.events[0]!.data).toBe('{"text":"again"}');
  });

  it('a leave stops the group at once (token group too), and it is never replayed', async () => {
    const c = await stream('l1', ['room-l']);
    const start = c.lastId!;
    await s.push({ group: 'room-l', data: { text: 'while-member' } });
    await c.waitForEvents(1);
    expect(await groups({ uid: 'l1', leave: ['room-l'] })).toEqual({
      status: 200,
      body: { uids: 1, connections: 1 },
    });
    const r = await s.push({ group: 'room-l', data: { text: 'after-leave' } });
    expect(r.body).toMatchObject({ delivered: 0 });
    await s.push({ to: 'l1', data: { text: 'mark' } });
    await c.waitForEvents(2);
    expect(c.events.map((e) => e.data)).toEqual(['{"text":"while-member"}', '{"text":"mark"}']);
    // Resume from before everything: the group it left is not replayed, not even what it got.
    const resumed = await openEvents(s.url, subToken('l1', { groups: ['room-l'] }), start);
    open.push(resumed);
    await resumed.waitForEvents(1);
    await resumed.waitUntil(() => resumed.lastId === c.lastId);
    expect(resumed.events.map((e) => e.data)).toEqual(['{"text":"mark"}']);
    // The poll cursor too.
    const p = await poll(s.url, subToken('l1', { groups: ['room-l'] }), start, 1);
    expect(p.messages.map((m) => m.data)).toEqual([{ text: 'mark' }]);
  });

  it('the later of join and leave wins, across calls and uids', async () => {
    const c = await stream('w1', ['t']);
    const other = await stream('w2');
    await groups({ uid: ['w1', 'w2'], join: 'x' });
    await groups({ uid: 'w1', leave: ['x', 't'] });
    await groups({ uid: 'w1', join: 't' });
    await s.push({ group: 'x', data: { text: 'x' } });
    await s.push({ group: 't', data: { text: 't' } });
    await c.waitForEvents(1);
    await other.waitForEvents(1);
    await s.push({ to: ['w1', 'w2'], data: { text: 'mark' } });
    await c.waitForEvents(2);
    await other.waitForEvents(2);
    expect(c.events.map((e) => e.data)).toEqual(['{"text":"t"}', '{"text":"mark"}']);
    expect(other.events.map((e) => e.data)).toEqual(['{"text":"x"}', '{"text":"mark"}']);
    // Reconnects see the same.
    const c2 = await stream('w1', ['t']);
    await s.push({ group: ['x', 't'], data: { text: 'both' } });
    await s.push({ group: 'x', data: { text: 'x-only' } });
    await s.push({ to: 'w1', data: { text: 'mark2' } });
    await c2.waitForEvents(2);
    expect(c2.events.map((e) => e.data)).toEqual(['{"text":"both"}', '{"text":"mark2"}']);
  });

  it('takes form bodies and answers the presence of the uids named', async () => {
    await stream('f1');
    await stream('f1');
    const r = await call(
      'POST',
      '/groups',
      CONTROL,
      'uid=f1&uid=f-offline&join=a&join=b',
      'application/x-www-form-urlencoded',
    );
    expect(r).toEqual({ status: 200, body: { uids: 1, connections: 2 } });
  });

  it('needs the control scope', async () => {
    const body = { uid: 'x', join: 'g' };
    expect((await call('POST', '/groups', PUSH, body)).body).toMatchObject({ error: 'insufficient_scope' });
    expect((await call('POST', '/groups', PUSH, body)).status).toBe(403);
    expect((await call('POST', '/groups', subToken('x'), body)).status).toBe(403);
    expect((await call('POST', '/groups', undefined, body)).status).toBe(401);
    const both = pubToken({ extra: { scope: 'push control' } });
    expect((await call('POST', '/groups', both, body)).status).toBe(200);
    // A control-only token cannot publish, nor subscribe; it can read presence.
    expect((await call('POST', '/push', CONTROL, { data: 1 })).status).toBe(403);
    const sub = await fetch(`${s.url}/events?token=${CONTROL}`);
    expect(sub.status).toBe(403);
    await sub.body?.cancel();
    expect((await call('GET', '/online', CONTROL)).status).toBe(200);
    expect((await call('GET', '/online/uids', CONTROL)).status).toBe(200);
    expect((await call('GET', '/online/uids', PUSH)).status).toBe(200);
  });

  it('answers every bad input with a 400 naming the field, and stays healthy', async () => {
    const many = Array.from({ length: 1001 }, (_, i) => `u${i}`);
    const cases: [unknown, RegExp][] = [
      [{}, /^uid is required/],
      [[{ uid: 'a', join: 'g' }], /^body/],
      [{ uid: 'a' }, /^join or leave/],
      [{ uid: 'a', join: [], leave: [] }, /^join or leave/],
      [{ uid: [], join: 'g' }, /^uid:/],
      [{ uid: many, join: 'g' }, /^uid:/],
      [{ uid: '', join: 'g' }, /^uid:/],
      [{ uid: 'a\nb', join: 'g' }, /^uid:/],
      [{ uid: -1, join: 'g' }, /^uid:/],
      [{ uid: { a: 1 }, join: 'g' }, /^uid:/],
      [{ uid: 'a', join: 'x'.repeat(129) }, /^join:/],
      [{ uid: 'a', join: ['g', null] }, /^join:/],
      [{ uid: 'a', leave: '\u0000' }, /^leave:/],
      [{ uid: 'a', leave: many }, /^leave:/],
      [{ uid: 'a', join: ['g', 'h'], leave: 'h' }, /^join and leave: group "h"/],
      [{ uid: 'a', join: 'g', group: 'x' }, /unknown field "group"/],
      [{ uid: 'a', join: Array.from({ length: 9 }, (_, i) => `g${i}`) }, /^join: at most 8/],
    ];
    for (const [body, message] of cases) {
      const r = await groups(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(String(r.body.message)).toMatch(message);
    }
    const bad = await call('POST', '/groups', CONTROL, '{"uid":', 'application/json');
    expect(bad.status).toBe(400);
    // Past MAX_GROUPS_PER_TOKEN joined at run time, over several calls: 400 naming the uid, nothing changed.
    await groups({ uid: 'cap', join: ['a1', 'a2', 'a3', 'a4', 'a5'] });
    const over = await groups({ uid: ['cap-ok', 'cap'], join: ['b1', 'b2', 'b3', 'b4'] });
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ error: 'too_many_groups' });
    expect(String(over.body.message)).toContain('"cap"');
    expect((await call('GET', '/healthz', undefined)).status).toBe(200);
  });
});

describe('GET /online?group= and GET /online/uids', () => {
  it('counts distinct uids and connections per group, following runtime changes', async () => {
    await stream('o1', ['og']);
    await stream('o1', ['og']);
    await stream('o2', ['og', 'oh']);
    await groups({ uid: 'o3', join: 'oh' });
    await stream('o3');
    const r = await call('GET', '/online?group=og&group=oh&group=none&group=__proto__&uid=o1', PUSH);
    expect(r.status).toBe(200);
    expect(r.body.groups).toEqual(
      JSON.parse(
        '{"og":{"uids":2,"connections":3},"oh":{"uids":2,"connections":2},"none":{"uids":0,"connections":0},"__proto__":{"uids":0,"connections":0}}',
      ),
    );
    expect(r.body.online).toEqual({ o1: 2 });
    await groups({ uid: 'o1', leave: 'og' });
    const after = await call('GET', '/online?group=og', PUSH);
    expect(after.body.groups).toEqual({ og: { uids: 1, connections: 1 } });
    expect((await call('GET', '/online?group=%00', PUSH)).status).toBe(400);
  });

  it('pages through thousands of online uids, all or a group, each once, at most limit per page', async () => {
    const N = 2500;
    const socks: RawSse[] = [];
    for (let i = 0; i < N; i += 250) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(250, N - i) }, (_, k) => {
          const n = i + k;
          const token = subToken(`p-${n}`, { groups: n % 3 === 0 ? ['third'] : [] });
          return RawSse.open(s.port, `/events?token=${token}`);
        }),
      );
      socks.push(...batch);
    }
    open.push(...socks);
    await Promise.all(socks.map((x) => x.waitUntil(() => x.text.includes('\nid:'), 20_000)));
    const walk = async (q: string, limit: number) => {
      const out: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10_000; pages++) {
        const r = await call(
          'GET',
          `/online/uids?limit=${limit}${q}${cursor ? `&cursor=${cursor}` : ''}`,
          PUSH,
        );
        expect(r.status).toBe(200);
        const uids = r.body.uids as string[];
        expect(uids.length).toBeLessThanOrEqual(limit);
        out.push(...uids);
        cursor = r.body.cursor as string | null;
        if (cursor === null) return out;
      }
      throw new Error('walk did not end');
    };
    const all = (await walk('', 1000)).filter((u) => u.startsWith('p-'));
    expect(all.length).toBe(N);
    expect(new Set(all).size).toBe(N);
    const third = await walk('&group=third', 333);
    expect(third.length).toBe(Math.ceil(N / 3));
    expect(new Set(third).size).toBe(third.length);
    const first = await call('GET', '/online/uids', PUSH);
    expect((first.body.uids as string[]).length).toBe(100);
    for (const q of [
      'limit=0',
      'limit=1001',
      'limit=x',
      'limit=1&limit=2',
      'cursor=%%%',
      'cursor=AA',
      'group=%00',
    ]) {
      const r = await call('GET', `/online/uids?${q}`, PUSH);
      expect(r.status, q).toBe(400);
    }
    for (const x of socks) x.close();
  }, 60_000);
});

describe('a full runtime groups store', () => {
  it('refuses new uids with 503 runtime_groups_full, still changing known ones', async () => {
    const small = await startServer({ MAX_RUNTIME_GROUP_UIDS: '2' });
    try {
      const post = async (body: unknown) => {
        const res = await fetch(`${small.url}/groups`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CONTROL}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
      };
      expect((await post({ uid: ['a', 'b'], join: 'g' })).status).toBe(200);
      const full = await post({ uid: 'c', join: 'g' });
      expect(full.status).toBe(503);
      expect(full.body).toMatchObject({ error: 'runtime_groups_full' });
      expect(full.body.message).toContain('MAX_RUNTIME_GROUP_UIDS');
      expect((await post({ uid: ['a', 'b'], leave: 'g' })).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});
