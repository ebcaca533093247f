import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PushClient, PushError, signJwt } from '../../clients/node/client.js';
import { openEvents, poll, ROOT, startServer, TEST_SECRET, type TestServer } from '../helpers.js';

let s: TestServer;
let client: PushClient;
beforeAll(async () => {
  s = await startServer();
  client = new PushClient(s.url, { secret: TEST_SECRET });
});
afterAll(() => s.close());

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

describe('Node PushClient against the real server', () => {
  it('pushes to a uid with a subscriber token it minted, delivered over SSE', async () => {
    const c = await openEvents(s.url, client.subscriberToken('n-u1'));
    try {
      await c.waitForId();
      const r = await client.push('n-u1', { hello: 'world' }, 'greet');
      expect(r).toMatchObject({ online: true, delivered: 1 });
      expect(typeof r.id).toBe('string');
      await c.waitForEvents(1);
      expect(c.events[0]).toEqual({ id: r.id, event: 'greet', data: '{"hello":"world"}' });
    } finally {
      c.close();
    }
  });

  it('pushes to a numeric uid, a group and everyone, delivered over long-poll', async () => {
    const token = client.subscriberToken(42, ['room-1'], 60);
    const first = await poll(s.url, token);
    const a = await client.push([42, 'nobody'], 'to-uid');
    const b = await client.pushToGroup('room-1', { g: 1 });
    const c = await client.broadcast(['all']);
    const got = await poll(s.url, token, first.cursor, 2);
    expect(got.messages.map((m) => [m.id, m.data])).toEqual([
      [a.id, 'to-uid'],
      [b.id, { g: 1 }],
      [c.id, ['all']],
    ]);
    expect(b.online).toBe(false); // a waiting poll is online, but no poll was waiting then
  });

  it('publishes a batch in order and answers one result per message', async () => {
    const token = client.subscriberToken('n-b', ['grp']);
    const first = await poll(s.url, token);
    const rs = await client.batch([
      { to: 'n-b', data: 1 },
      { group: 'grp', data: 2, event: 'x' },
      { to: 'someone-else', data: 3 },
    ]);
    expect(rs).toHaveLength(3);
    const got = await poll(s.url, token, first.cursor, 2);
    expect(got.messages.map((m) => [m.id, m.event, m.data])).toEqual([
      [rs[0]!.id, 'message', 1],
      [rs[1]!.id, 'x', 2],
    ]);
  });

  it('reports who is online', async () => {
    const c = await openEvents(s.url, client.subscriberToken('n-on'));
    try {
      await c.waitForId();
      const r = await client.online(['n-on', 'n-off']);
      expect(r.online).toEqual({ 'n-on': 1, 'n-off': 0 });
      expect(r.uids).toBeGreaterThanOrEqual(1);
      expect(await client.connectionsOf('n-on')).toBe(1);
      const totals = await client.online();
      expect(totals.online).toBeUndefined();
      expect(totals.connections).toBeGreaterThanOrEqual(1);
    } finally {
      c.close();
    }
  });

  it('turns an expired token into PushError 401 token_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt({ scope: 'push', iat: now - 120, exp: now - 60 }, TEST_SECRET);
    const err = await new PushClient(s.url, { token: expired }).broadcast(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushError);
    expect(err).toMatchObject({ status: 401, code: 'token_expired' });
  });

  it('turns a bad request into PushError 400 with the server code', async () => {
    const err = await client.push('u', 1, 'reset').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'bad_request' });
  });

  it('fails fast with connection_failed when the server is down', async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await new PushClient(`http://127.0.0.1:${port}`, { secret: TEST_SECRET, timeoutMs: 2000 })
      .broadcast(1)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'connection_failed' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives up after timeoutMs when the server never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((sock) => sockets.add(sock)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const addr = silent.address();
    const port = addr !== null && typeof addr !== 'string' ? addr.port : 0;
    try {
      const started = Date.now();
      const err = await new PushClient(`http://127.0.0.1:${port}`, { secret: TEST_SECRET, timeoutMs: 300 })
        .broadcast(1)
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 0, code: 'timeout' });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('signs publisher tokens with publisherSecret, reuses them, and sends the documented body', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      seen.push({ url: String(input), init: init ?? {} });
      return new Response('{"id":"e-1","online":false,"delivered":0}', { status: 200 });
    };
    const c = new PushClient('http://push.internal:8080/', {
      secret: 'subscriber-secret-0123',
      publisherSecret: 'publisher-secret-0123',
      issuer: 'shop',
      fetch: fakeFetch,
    });
    await c.send({ to: [1, 'b'], group: 'g', data: { x: 1 } });
    await c.broadcast('hi', 'note');
    expect(seen.map((r) => [r.url, r.init.method, r.init.body])).toEqual([
      ['http://push.internal:8080/push', 'POST', '{"to":[1,"b"],"group":"g","data":{"x":1}}'],
      ['http://push.internal:8080/push', 'POST', '{"data":"hi","event":"note"}'],
    ]);
    const auth = seen.map((r) => (r.init.headers as Record<string, string>).authorization);
    expect(auth[0]).toBe(auth[1]);
    const token = auth[0]!.replace('Bearer ', '');
    const [head, body] = token.split('.');
    expect(signJwt(JSON.parse(Buffer.from(body!, 'base64url').toString()), 'publisher-secret-0123')).toBe(
      token,
    );
    expect(JSON.parse(Buffer.from(body!, 'base64url').toString())).toMatchObject({
      scope: 'push',
      iss: 'shop',
    });
    expect(head).toBe('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9');
    const sub = c.subscriberToken('u', ['g1'], 60).split('.')[1]!;
    expect(JSON.parse(Buffer.from(sub, 'base64url').toString())).toMatchObject({ sub: 'u', groups: ['g1'] });
  });

  it('is exported from the package as "." and "./client"', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };
    for (const key of ['.', './client']) {
      expect(pkg.exports[key]).toEqual({ types: './dist/client.d.ts', default: './dist/client.js' });
    }
  });
});

describe('Node PushClient control and presence calls against the real server', () => {
  it('disconnect ends the stream with the event, and revoke refuses the old token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = signJwt({ sub: 'nc-kicked', iat: now - 5, exp: now + 600 }, TEST_SECRET);
    const c = await openEvents(s.url, old);
    try {
      await c.waitForId();
      const r = await client.disconnect('nc-kicked', { reason: 'banned', reconnect: false, revoke: true });
      expect(r).toEqual({ uids: 1, connections: 1 });
      await c.waitForEvents(1);
      expect(c.events[0]).toMatchObject({
        event: 'disconnect',
        data: '{"reason":"banned","reconnect":false}',
      });
      expect(await client.connectionsOf('nc-kicked')).toBe(0);
      await expect(poll(s.url, old)).rejects.toThrow(/answered 401: .*token_revoked/);
    } finally {
      c.close();
    }
  });

  it('a joined group gets the group push, a left one does not', async () => {
    const c = await openEvents(s.url, client.subscriberToken('nc-joiner'));
    try {
      await c.waitForId();
      expect(await client.joinGroup('nc-joiner', 'nc-room')).toEqual({ uids: 1, connections: 1 });
      expect(await client.groupCounts(['nc-room'])).toEqual({ 'nc-room': { uids: 1, connections: 1 } });
      const r = await client.pushToGroup('nc-room', 'hello');
      expect(r.delivered).toBe(1);
      await c.waitForEvents(1);
      expect(c.events[0]?.id).toBe(r.id);
      await client.leaveGroup('nc-joiner', ['nc-room']);
      expect((await client.pushToGroup('nc-room', 'gone')).delivered).toBe(0);
    } finally {
      c.close();
    }
  });

  it('exclude keeps a uid out of group pushes, sends and broadcasts', async () => {
    const a = await openEvents(s.url, client.subscriberToken('nc-ex-a', ['nc-ex']));
    const b = await openEvents(s.url, client.subscriberToken('nc-ex-b', ['nc-ex']));
    try {
      await Promise.all([a.waitForId(), b.waitForId()]);
      expect((await client.pushToGroup('nc-ex', 1)).delivered).toBe(2);
      expect((await client.pushToGroup('nc-ex', 2, 'message', 'nc-ex-b')).delivered).toBe(1);
      expect((await client.send({ group: 'nc-ex', data: 3, exclude: ['nc-ex-a'] })).delivered).toBe(1);
      await client.broadcast(4, 'message', ['nc-ex-a', 'nc-ex-b']);
      expect(
        (await client.push(['nc-ex-a', 'nc-ex-b'], 5, 'message', ['nc-ex-a', 'nc-ex-b'])).delivered,
      ).toBe(0);
      expect((await client.pushToGroup('nc-ex', 6)).delivered).toBe(2);
      await Promise.all([a.waitForEvents(3), b.waitForEvents(3)]);
      expect(a.events.map((e) => e.data)).toEqual(['1', '2', '6']);
      expect(b.events.map((e) => e.data)).toEqual(['1', '3', '6']);
    } finally {
      a.close();
      b.close();
    }
  });

  it('onlineUids pages through every uid once', async () => {
    const uids = Array.from({ length: 7 }, (_, i) => `nc-page-${i}`);
    const streams = await Promise.all(
      uids.map((u) => openEvents(s.url, client.subscriberToken(u, ['nc-pages']))),
    );
    try {
      await Promise.all(streams.map((c) => c.waitForId()));
      const seen: string[] = [];
      for await (const uid of client.onlineUids('nc-pages', 2)) seen.push(uid);
      expect(seen).toEqual(uids);
      const everyone: string[] = [];
      for await (const uid of client.onlineUids(undefined, 3)) everyone.push(uid);
      expect(new Set(everyone).size).toBe(everyone.length);
      expect(everyone).toEqual(expect.arrayContaining(uids));
    } finally {
      for (const c of streams) c.close();
    }
  });

  it('a push-only token gets 403 insufficient_scope on control routes', async () => {
    const pushOnly = signJwt({ scope: 'push', exp: Math.floor(Date.now() / 1000) + 60 }, TEST_SECRET);
    const err = await new PushClient(s.url, { token: pushOnly }).disconnect('nc-nobody').catch((e) => e);
    expect(err).toBeInstanceOf(PushError);
    expect([err.status, err.code]).toEqual([403, 'insufficient_scope']);
  });

  it('signs control into a token only for the control calls (offline)', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fakeFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      seen.push({ url, init: init ?? {} });
      const body = url.includes('/online/uids')
        ? '{"uids":["a"],"cursor":null}'
        : url.endsWith('/push')
          ? '{"id":"e","online":false,"delivered":0}'
          : '{"uids":0,"connections":0,"groups":{"g":{"uids":0,"connections":0}}}';
      return new Response(body, { status: 200 });
    };
    const c = new PushClient('http://h:8080', { secret: 's', fetch: fakeFetch });
    await c.pushToGroup('g', 1, 'message', ['a', 'b']);
    await c.groupCounts(['g']);
    for await (const _ of c.onlineUids(undefined, 2)) void _;
    await c.disconnect(['a'], { revoke: true });
    await c.joinGroup('a', 'g');
    await c.push('a', 2);
    expect(seen[0]?.init.body).toBe('{"group":"g","data":1,"event":"message","exclude":["a","b"]}');
    expect(seen[3]?.init.body).toBe('{"uid":["a"],"revoke":true}');
    const scopes = seen.map((r) => {
      const token = (r.init.headers as Record<string, string>).authorization!.slice(7);
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as {
        scope: string;
      };
      return [new URL(r.url).pathname, claims.scope];
    });
    expect(scopes).toEqual([
      ['/push', 'push'],
      ['/online', 'push'],
      ['/online/uids', 'push'],
      ['/disconnect', 'control'],
      ['/groups', 'control'],
      ['/push', 'push'],
    ]);
  });
});
