import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, pubToken, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
const open: SseClient[] = [];
const PUB = `Bearer ${pubToken()}`;
beforeAll(async () => {
  s = await startServer({ MAX_MESSAGE_BYTES: '1000', MAX_BODY_BYTES: '4096', MAX_CONNECTIONS_PER_UID: '2' });
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.close();
});
const api = () => request(s.url);

describe('POST /push', () => {
  it('publishes JSON and answers id, online, delivered', async () => {
    const c = await openEvents(s.url, subToken('42'));
    open.push(c);
    await c.waitForId();
    const res = await api()
      .post('/push')
      .set('Authorization', PUB)
      .send({ to: 42, data: { hello: 'php' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.any(String), online: true, delivered: 1 });
    await c.waitForEvents(1);
    expect(c.events[0]).toEqual({ id: res.body.id, event: 'message', data: '{"hello":"php"}' });
    const offline = await api().post('/push').set('Authorization', PUB).send({ to: 'nobody', data: 1 });
    expect(offline.body).toMatchObject({ online: false, delivered: 0 });
  });

  it('publishes a batch in order and answers an array', async () => {
    const c = await openEvents(s.url, subToken('batch'));
    open.push(c);
    await c.waitForId();
    const res = await api()
      .post('/push')
      .set('Authorization', PUB)
      .send([
        { to: 'batch', data: 1 },
        { to: 'nobody', data: 2 },
        { to: 'batch', event: 'two', data: 3 },
      ]);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(3);
    expect(res.body.map((r: { delivered: number }) => r.delivered)).toEqual([1, 0, 1]);
    await c.waitForEvents(2);
    expect(c.events.map((e) => [e.id, e.event, e.data])).toEqual([
      [res.body[0].id, 'message', '1'],
      [res.body[2].id, 'two', '3'],
    ]);
  });

  it('rejects a batch with one bad item whole, naming the index, publishing nothing', async () => {
    const c = await openEvents(s.url, subToken('whole'));
    open.push(c);
    await c.waitForId();
    const res = await api()
      .post('/push')
      .set('Authorization', PUB)
      .send([
        { to: 'whole', data: 1 },
        { to: [], data: 2 },
      ]);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'bad_request', message: expect.stringContaining('item 1') });
    await api().post('/push').set('Authorization', PUB).send({ to: 'whole', data: 'after' });
    await c.waitForEvents(1);
    expect(c.events.map((e) => e.data)).toEqual(['"after"']);
  });

  it('accepts web-msg-sender form posts: type=publish&to=&content=', async () => {
    const c = await openEvents(s.url, subToken('form'));
    open.push(c);
    await c.waitForId();
    const one = await api()
      .post('/push')
      .set('Authorization', PUB)
      .type('form')
      .send('type=publish&to=form&content=hi');
    expect(one.status).toBe(200);
    const all = await api()
      .post('/push')
      .set('Authorization', PUB)
      .type('form')
      .send('type=publish&to=&content=everyone');
    expect(all.status).toBe(200);
    await c.waitForEvents(2);
    expect(c.events.map((e) => JSON.parse(e.data))).toEqual(['hi', 'everyone']);
  });

  it.each([
    ['no token', undefined, 401, 'missing_token'],
    ['a garbage token', 'Bearer nope', 401, 'invalid_token'],
    ['a subscriber token', `Bearer ${subToken('x')}`, 403, 'insufficient_scope'],
    ['an expired publisher token', `Bearer ${pubToken({ ttlSec: -60 })}`, 401, 'token_expired'],
  ])('answers %s with %i and WWW-Authenticate on 401', async (_n, auth, status, code) => {
    const req = api().post('/push').send({ data: 1 });
    const res = await (auth ? req.set('Authorization', auth) : req);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: code, message: expect.any(String) });
    if (status === 401) expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it.each([
    ['invalid JSON', 'application/json', '{nope', 400],
    ['a bad uid', 'application/json', '{"to":-3,"data":1}', 400],
    ['the reserved reset event', 'application/json', '{"event":"reset","data":1}', 400],
    ['text/plain', 'text/plain', 'hello', 415],
    ['data over MAX_MESSAGE_BYTES', 'application/json', JSON.stringify({ data: 'x'.repeat(1200) }), 413],
    ['a body over MAX_BODY_BYTES', 'application/json', JSON.stringify([{ data: 'x'.repeat(5000) }]), 413],
  ])('answers %s with a JSON error', async (_n, type, body, status) => {
    const res = await api().post('/push').set('Authorization', PUB).set('Content-Type', type).send(body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: expect.any(String), message: expect.any(String) });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});

describe('other endpoints and errors', () => {
  it('GET /online counts uids and connections, per uid on request', async () => {
    const a = await openEvents(s.url, subToken('on1'));
    const b = await openEvents(s.url, subToken('on1'));
    open.push(a, b);
    await Promise.all([a.waitForId(), b.waitForId()]);
    const res = await api().get('/online?uid=on1&uid=off').set('Authorization', PUB);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      uids: expect.any(Number),
      connections: expect.any(Number),
      online: { on1: 2, off: 0 },
    });
    expect(
      (
        await api()
          .get('/online')
          .set('Authorization', `Bearer ${subToken('x')}`)
      ).status,
    ).toBe(403);
  });

  it('answers 429 for one connection more than MAX_CONNECTIONS_PER_UID', async () => {
    const tabs = [await openEvents(s.url, subToken('many')), await openEvents(s.url, subToken('many'))];
    open.push(...tabs);
    await Promise.all(tabs.map((t) => t.waitForId()));
    const res = await fetch(`${s.url}/events?token=${subToken('many')}`);
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: 'limit_reached', message: expect.any(String) });
  });

  it('answers 401 on /events for a bad token and 403 for a token without sub', async () => {
    const bad = await fetch(`${s.url}/events?token=bad`);
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const nosub = await fetch(`${s.url}/events`, {
      headers: { authorization: `Bearer ${pubToken({ extra: { scope: 'read' } })}` },
    });
    expect(nosub.status).toBe(403);
  });

  it('serves /healthz, /metrics, 404 and 405', async () => {
    expect((await api().get('/healthz')).body).toEqual({ status: 'ok', demo: false });
    const m = await api().get('/metrics');
    expect(m.status).toBe(200);
    for (const name of [
      'ssepush_connections',
      'ssepush_uids_online',
      'ssepush_messages_published_total',
      'ssepush_messages_delivered_total',
      'ssepush_messages_replayed_total',
      'ssepush_resets_total',
      'ssepush_slow_clients_dropped_total',
      'ssepush_poll_waiters',
      'ssepush_push_duration_seconds',
    ]) {
      expect(m.text).toContain(name);
    }
    const nf = await api().get('/nope');
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ error: 'not_found', message: expect.any(String) });
    const na = await api().get('/push');
    expect(na.status).toBe(405);
    expect(na.headers.allow).toBe('POST');
    expect(na.body.error).toBe('method_not_allowed');
  });

  it('serves the demo page and the browser client', async () => {
    const page = await api().get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/html/);
  });

  it('offers demo tokens only in demo mode', async () => {
    expect((await api().get('/demo/tokens')).status).toBe(404);
  });

  it('answers 503 to new requests while shutting down', async () => {
    const other = await startServer();
    const c = await openEvents(other.url, subToken('bye'));
    await c.waitForId();
    other.server.hub.drain();
    await c.waitUntil(() => c.closed, 3000, 'the stream to end');
    const res = await fetch(`${other.url}/push`, {
      method: 'POST',
      headers: { authorization: PUB },
      body: '{}',
    });
    expect(res.status).toBe(503);
    expect((await fetch(`${other.url}/healthz`)).status).toBe(503);
    await other.close();
  });
});

describe('POST /push body reading', () => {
  const post = (headers: Record<string, string>, body: Buffer | string) =>
    fetch(`${s.url}/push`, {
      method: 'POST',
      headers: { authorization: PUB, ...headers },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });

  it.each([
    ['application/json', '{"data":1}'],
    ['application/merge-patch+json', '{"data":1}'],
    ['application/json; charset=UTF-8', '\ufeff{"data":"é"}'],
    ['application/json; charset=utf-16le', null],
  ])('accepts %s', async (type, body) => {
    const bytes = body === null ? Buffer.from('{"data":"é"}', 'utf16le') : Buffer.from(body);
    const res = await post({ 'content-type': type }, bytes);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: expect.any(String) });
  });

  it('reads a chunked body and a gzip or deflate body', async () => {
    const chunked = await fetch(`${s.url}/push`, {
      method: 'POST',
      headers: { authorization: PUB, 'content-type': 'application/json' },
      body: new Blob(['{"data":', '2}']).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(200);
    const { gzipSync, deflateSync } = await import('node:zlib');
    for (const [encoding, pack] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const) {
      const res = await post(
        { 'content-type': 'application/json', 'content-encoding': encoding },
        pack(Buffer.from('{"data":3}')),
      );
      expect(res.status, encoding).toBe(200);
    }
  });

  it.each([
    ['a JSON string (strict: objects and arrays only)', 'application/json', '"text"', 400, 'bad_json'],
    ['an empty body (read as {})', 'application/json', '', 400, 'bad_request'],
    [
      'a charset JSON cannot have',
      'application/json; charset=latin1',
      '{"data":1}',
      415,
      'unsupported_media_type',
    ],
    ['a malformed Content-Type', 'application/json; charset', '{"data":1}', 415, 'unsupported_media_type'],
  ])('answers %s', async (_n, type, body, status, code) => {
    const res = await post({ 'content-type': type }, body);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: code, message: expect.any(String) });
  });

  it('refuses a Content-Encoding body-parser did not take (415)', async () => {
    const res = await post({ 'content-type': 'application/json', 'content-encoding': 'compress' }, 'x');
    expect(res.status).toBe(415);
  });

  it('counts the body limit after decompression (413)', async () => {
    const { gzipSync } = await import('node:zlib');
    const big = gzipSync(Buffer.from(JSON.stringify({ data: 'x'.repeat(10_000) })));
    const res = await post({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, big);
    expect(res.status).toBe(413);
  });
});
