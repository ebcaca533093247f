/**
 * Every bound of the "Security and limits" section, each at its edge: one more connection than
 * allowed, one byte more than allowed, one group more than allowed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  openEvents,
  poll,
  pubToken,
  type SseClient,
  startServer,
  subToken,
  type TestServer,
} from '../helpers.js';
import { isJsonError, jsonOf, rawRequest } from './raw.js';

const open: SseClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function stream(url: string, token: string): Promise<SseClient> {
  const c = await openEvents(url, token);
  open.push(c);
  return c;
}

describe('connection limits', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ MAX_CONNECTIONS_PER_UID: '2', MAX_CONNECTIONS: '4' });
  });
  afterAll(() => s.close());

  it('answers 429 JSON to one more connection than MAX_CONNECTIONS_PER_UID, streams and polls alike', async () => {
    const a = await stream(s.url, subToken('limited'));
    const b = await stream(s.url, subToken('limited'));
    await a.waitForId();
    await b.waitForId();
    const third = await stream(s.url, subToken('limited'));
    expect(third.status).toBe(429);
    expect(jsonOf(third.body)).toMatchObject({ error: 'limit_reached' });
    const p = await rawRequest(s.url, {
      path: `/poll?cursor=${encodeURIComponent(a.lastId!)}&timeout=1&token=${subToken('limited')}`,
    });
    expect(p.status).toBe(429);
    expect(isJsonError(p)).toBe(true);
    // Another uid is not affected, and closing one stream frees a slot.
    const other = await stream(s.url, subToken('someone-else'));
    expect(other.status).toBe(200);
    a.close();
    await waitFor(() => s.server.hub.online(['limited']).online?.limited === 1);
    const again = await stream(s.url, subToken('limited'));
    expect(again.status).toBe(200);
  });

  it('counts waiting polls against MAX_CONNECTIONS_PER_UID', async () => {
    const c = await stream(s.url, subToken('poller'));
    const cursor = await c.waitForId();
    const waiting = poll(s.url, subToken('poller'), cursor, 3);
    await waitFor(() => s.server.hub.online(['poller']).online?.poller === 2);
    const third = await stream(s.url, subToken('poller'));
    expect(third.status).toBe(429);
    await s.push({ to: 'poller', data: 1 });
    expect((await waiting).messages).toHaveLength(1);
  });

  it('answers 503 JSON once the process holds MAX_CONNECTIONS', async () => {
    for (let i = 0; i < 4; i++) await (await stream(s.url, subToken(`u${i}`))).waitForId();
    const over = await stream(s.url, subToken('u-over'));
    expect(over.status).toBe(503);
    expect(jsonOf(over.body)).toMatchObject({ error: 'too_many_connections' });
    expect(over.headers['retry-after']).toBe('1');
  });
});

describe('token and request size limits', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({
      MAX_GROUPS_PER_TOKEN: '3',
      MAX_TOKEN_BYTES: '512',
      MAX_BODY_BYTES: '2048',
      MAX_MESSAGE_BYTES: '256',
    });
  });
  afterAll(() => s.close());

  it('refuses a token naming more than MAX_GROUPS_PER_TOKEN groups (403)', async () => {
    const ok = await rawRequest(s.url, { path: `/poll?token=${subToken('g', { groups: ['a', 'b', 'c'] })}` });
    expect(ok.status).toBe(200);
    const r = await rawRequest(s.url, {
      path: `/poll?token=${subToken('g', { groups: ['a', 'b', 'c', 'd'] })}`,
    });
    expect(r.status).toBe(403);
    expect(jsonOf(r.body)).toMatchObject({ error: 'too_many_groups' });
  });

  it('refuses a token longer than MAX_TOKEN_BYTES (401) before verifying it', async () => {
    const long = subToken('x', { extra: { pad: 'p'.repeat(600) } });
    expect(long.length).toBeGreaterThan(512);
    const variants: Record<string, string>[] = [
      { authorization: `Bearer ${long}` },
      { cookie: `ssepush_token=${long}` },
    ];
    for (const headers of variants) {
      const r = await rawRequest(s.url, { path: '/poll', headers });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(jsonOf(r.body)).toMatchObject({ message: 'token is too long' });
    }
  });

  it('refuses a request body over MAX_BODY_BYTES (413), JSON and form alike', async () => {
    const big = JSON.stringify([{ data: 'x'.repeat(100) }, { data: 'y'.repeat(2100) }]);
    const r = await rawRequest(s.url, {
      method: 'POST',
      path: '/push',
      headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
      body: big,
    });
    expect(r.status).toBe(413);
    expect(isJsonError(r)).toBe(true);
    const f = await rawRequest(s.url, {
      method: 'POST',
      path: '/push',
      headers: {
        authorization: `Bearer ${pubToken()}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: `content=${'z'.repeat(2100)}`,
    });
    expect(f.status).toBe(413);
    expect(isJsonError(f)).toBe(true);
  });

  it('refuses one message over MAX_MESSAGE_BYTES (413) and publishes nothing of its batch', async () => {
    const before = (await s.server.broker.position()) as string;
    const r = await s.push([{ data: 'ok' }, { data: 'm'.repeat(300) }]);
    expect(r.status).toBe(413);
    expect(await s.server.broker.position()).toBe(before);
  });

  it('refuses a batch of more than 1000 messages (400)', async () => {
    const big = await startServer({ MAX_BODY_BYTES: String(1024 * 1024) });
    try {
      const r = await big.push(Array.from({ length: 1001 }, () => ({ data: 1 })));
      expect(r.status).toBe(400);
      const ok = await big.push(Array.from({ length: 1000 }, () => ({ data: 1 })));
      expect(ok.status).toBe(200);
    } finally {
      await big.close();
    }
  });

  it('refuses more than 100 form parameters (413)', async () => {
    const body = Array.from({ length: 120 }, (_, i) => `p${i}=1`).join('&');
    const r = await rawRequest(s.url, {
      method: 'POST',
      path: '/push',
      headers: {
        authorization: `Bearer ${pubToken()}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body,
    });
    expect(r.status).toBe(413);
    expect(isJsonError(r)).toBe(true);
  });

  it('refuses request heads over 16 KiB (431), headers or URL', async () => {
    const h = await rawRequest(s.url, { path: '/healthz', headers: { 'x-pad': 'h'.repeat(17 * 1024) } });
    expect(h.status).toBe(431);
    expect(jsonOf(h.body)).toMatchObject({ error: 'headers_too_large' });
    const u = await rawRequest(s.url, { path: `/healthz?pad=${'u'.repeat(17 * 1024)}` });
    expect(u.status).toBe(431);
    expect(isJsonError(u)).toBe(true);
    const ok = await rawRequest(s.url, { path: '/healthz', headers: { 'x-pad': 'h'.repeat(8 * 1024) } });
    expect(ok.status).toBe(200);
  });

  it('answers a malformed request with a JSON 400', async () => {
    const { connect } = await import('node:net');
    const text = await new Promise<string>((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port: s.port }, () => sock.write('GARBAGE / HTTP/9\r\n\r\n'));
      let out = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        out += d;
      });
      sock.on('close', () => resolve(out));
      sock.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(jsonOf(text.slice(text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'bad_request' });
  });

  it('refuses uid and group names over 128 characters, in pushes and tokens', async () => {
    expect((await s.push({ to: 'n'.repeat(129), data: 1 })).status).toBe(400);
    expect((await s.push({ group: 'n'.repeat(129), data: 1 })).status).toBe(400);
    expect((await s.push({ to: 'n'.repeat(128), data: 1 })).status).toBe(200);
    const r = await rawRequest(s.url, { path: `/poll?token=${subToken('n'.repeat(129))}` });
    expect(r.status).toBe(403);
  });

  it('refuses more than 1000 uids or groups in one message, and reads at most 1000 uids on /online', async () => {
    const big = await startServer({ MAX_BODY_BYTES: String(1024 * 1024) });
    try {
      const uids = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);
      expect((await big.push({ to: uids(1001), data: 1 })).status).toBe(400);
      expect((await big.push({ group: uids(1001), data: 1 })).status).toBe(400);
      expect((await big.push({ to: uids(1000), data: 1 })).status).toBe(200);
      const q = uids(1001)
        .map((u) => `uid=${u}`)
        .join('&');
      const r = await rawRequest(big.url, {
        path: `/online?${q}`,
        headers: { authorization: `Bearer ${pubToken()}` },
      });
      // The query parser reads at most 1000 parameters: the answer never covers more.
      expect(r.status).toBe(200);
      expect(Object.keys((jsonOf(r.body) as { online: object }).online).length).toBeLessThanOrEqual(1000);
    } finally {
      await big.close();
    }
  });

  it('refuses data nested too deeply to serialize (400, not a 500 from a stack overflow)', async () => {
    const big = await startServer();
    try {
      for (const depth of [20_000, 200_000]) {
        const body = `{"data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
        for (const b of [body, `[${body}]`]) {
          const r = await rawRequest(big.url, {
            method: 'POST',
            path: '/push',
            headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
            body: b,
          });
          expect(r.status).toBe(400);
          expect(jsonOf(r.body)).toMatchObject({ message: expect.stringMatching(/nested too deeply/) });
        }
      }
      expect((await big.push({ data: JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`) })).status).toBe(200);
    } finally {
      await big.close();
    }
  });

  it('caps the long-poll timeout and refuses a non-numeric one', async () => {
    const bad = await rawRequest(s.url, { path: `/poll?timeout=1e9&cursor=x&token=${subToken('t')}` });
    expect(bad.status).toBe(400);
    expect(isJsonError(bad)).toBe(true);
  });
});

async function waitFor(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
