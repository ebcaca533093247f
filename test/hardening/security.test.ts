/**
 * Authentication and output safety: the JWT rules (allowlist, `none`, HS/RS confusion, expiry
 * with skew, issuer/audience, token types), CORS by allowlist, error bodies without stacks,
 * security headers, and SSE frames nobody can inject into.
 */
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker.js';
import { MemoryBroker } from '../../src/broker-memory.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { SsePushServer } from '../../src/server.js';
import {
  openEvents,
  pubToken,
  SseClient,
  startServer,
  subToken,
  TEST_SECRET,
  type TestServer,
} from '../helpers.js';
import { isJsonError, jsonOf, type RawResponse, rawRequest } from './raw.js';

const now = () => Math.floor(Date.now() / 1000);

/** A hand-made unsigned token: jsonwebtoken refuses to verify these, we check the server does too. */
function noneToken(payload: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

function pollAs(s: TestServer, token: string): Promise<RawResponse> {
  return rawRequest(s.url, { path: '/poll', headers: { authorization: `Bearer ${token}` } });
}

function pushAs(s: TestServer, token: string, body: unknown = { data: 1 }): Promise<RawResponse> {
  return rawRequest(s.url, {
    method: 'POST',
    path: '/push',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function expect401(r: RawResponse): void {
  expect(r.status).toBe(401);
  expect(r.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  expect(isJsonError(r)).toBe(true);
}

describe('JWT with a shared secret', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  it('refuses alg "none" for subscribers and publishers', async () => {
    expect401(await pollAs(s, noneToken({ sub: 'u' })));
    expect401(await pushAs(s, noneToken({ scope: 'push' })));
  });

  it('refuses algorithms outside the allowlist even with the right key', async () => {
    const hs512 = jwt.sign({ sub: 'u' }, TEST_SECRET, { algorithm: 'HS512' });
    expect401(await pollAs(s, hs512));
    expect((await pollAs(s, subToken('u'))).status).toBe(200);
  });

  it('refuses a token signed with another secret, garbage, and a missing token', async () => {
    expect401(await pollAs(s, subToken('u', { secret: 'another-secret-0123456789' })));
    expect401(await pollAs(s, 'not.a.jwt'));
    const missing = await rawRequest(s.url, { path: '/poll' });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('enforces exp with the default 5 s clock skew', async () => {
    const recent = jwt.sign({ sub: 'u', exp: now() - 2 }, TEST_SECRET);
    expect((await pollAs(s, recent)).status).toBe(200);
    const old = jwt.sign({ sub: 'u', exp: now() - 30 }, TEST_SECRET);
    const r = await pollAs(s, old);
    expect401(r);
    expect(jsonOf(r.body)).toMatchObject({ error: 'token_expired' });
    const oldPub = jwt.sign({ scope: 'push', exp: now() - 30 }, TEST_SECRET);
    expect401(await pushAs(s, oldPub));
  });

  it('refuses a token that is not yet valid (nbf beyond the skew)', async () => {
    const future = jwt.sign({ sub: 'u', nbf: now() + 60 }, TEST_SECRET);
    expect401(await pollAs(s, future));
  });

  it('keeps publisher and subscriber tokens apart', async () => {
    const pubOnEvents = await pollAs(s, pubToken());
    expect(pubOnEvents.status).toBe(403);
    expect(jsonOf(pubOnEvents.body)).toMatchObject({ error: 'wrong_token_type' });
    const subOnPush = await pushAs(s, subToken('u'));
    expect(subOnPush.status).toBe(403);
    expect(jsonOf(subOnPush.body)).toMatchObject({ error: 'insufficient_scope' });
    const subOnOnline = await rawRequest(s.url, {
      path: '/online',
      headers: { authorization: `Bearer ${subToken('u')}` },
    });
    expect(subOnOnline.status).toBe(403);
  });

  it('refuses a subscriber token without a usable sub', async () => {
    const noSub = jwt.sign({ groups: ['a'] }, TEST_SECRET);
    expect([401, 403]).toContain((await pollAs(s, noSub)).status);
    const ctl = jwt.sign({ sub: 'a\nb' }, TEST_SECRET);
    expect((await pollAs(s, ctl)).status).toBe(403);
    const obj = jwt.sign({ sub: 'u', groups: 'not-an-array' }, TEST_SECRET);
    expect((await pollAs(s, obj)).status).toBe(403);
  });
});

describe('JWT with a separate publisher secret', () => {
  it('refuses a push token signed with the subscriber key, and the reverse', async () => {
    const pubSecret = 'publisher-secret-0123456789';
    const s = await startServer({ PUBLISHER_JWT_SECRET: pubSecret });
    try {
      expect401(await pushAs(s, pubToken()));
      expect((await pushAs(s, pubToken({ secret: pubSecret }))).status).toBe(200);
      expect401(await pollAs(s, subToken('u', { secret: pubSecret })));
    } finally {
      await s.close();
    }
  });
});

describe('JWT with issuer and audience', () => {
  it('checks iss and aud when configured', async () => {
    const s = await startServer({ JWT_ISSUER: 'https://app.example', JWT_AUDIENCE: 'ssepush' });
    try {
      const sign = (o: jwt.SignOptions) => jwt.sign({ sub: 'u' }, TEST_SECRET, o);
      expect401(await pollAs(s, sign({})));
      expect401(await pollAs(s, sign({ issuer: 'https://evil.example', audience: 'ssepush' })));
      expect401(await pollAs(s, sign({ issuer: 'https://app.example', audience: 'other' })));
      expect((await pollAs(s, sign({ issuer: 'https://app.example', audience: 'ssepush' }))).status).toBe(
        200,
      );
    } finally {
      await s.close();
    }
  });

  it('honours JWT_CLOCK_TOLERANCE_SECONDS=0', async () => {
    const s = await startServer({ JWT_CLOCK_TOLERANCE_SECONDS: '0' });
    try {
      expect401(await pollAs(s, jwt.sign({ sub: 'u', exp: now() - 2 }, TEST_SECRET)));
      // A stream ends when its token expires (plus the tolerated skew, here none).
      const c = await openEvents(s.url, jwt.sign({ sub: 'exp', exp: now() + 2 }, TEST_SECRET));
      await c.waitForId();
      await c.waitUntil(() => c.closed, 5000, 'the stream to end at expiry');
      expect(s.server.hub.counts.streams).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe('JWT with a public key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicKey });
  });
  afterAll(() => s.close());

  it('accepts RS256 tokens signed with the private key', async () => {
    const t = jwt.sign({ sub: 'rsa' }, privateKey, { algorithm: 'RS256' });
    expect((await pollAs(s, t)).status).toBe(200);
    const p = jwt.sign({ scope: 'push' }, privateKey, { algorithm: 'RS256' });
    expect((await pushAs(s, p)).status).toBe(200);
  });

  it('refuses an HS256 token signed with the public key text (algorithm confusion)', async () => {
    // jsonwebtoken refuses to sign HS256 with a PEM key, so build the HMAC by hand.
    const { createHmac } = await import('node:crypto');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    for (const payload of [{ sub: 'attacker' }, { scope: 'push' }]) {
      const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
      const sig = createHmac('sha256', publicKey).update(head).digest('base64url');
      const forged = `${head}.${sig}`;
      expect401(await pollAs(s, forged));
      expect401(await pushAs(s, forged));
    }
    expect401(await pollAs(s, noneToken({ sub: 'attacker' })));
  });

  it('refuses to configure HS algorithms with a public key, and "none" anywhere', () => {
    expect(() => loadConfig({ JWT_PUBLIC_KEY: publicKey, JWT_ALGORITHMS: 'HS256' })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_SECRET: TEST_SECRET, JWT_ALGORITHMS: 'none' })).toThrow(ConfigError);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
  });
});

describe('CORS', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ CORS_ORIGINS: 'https://app.example,http://localhost:3000' });
  });
  afterAll(() => s.close());

  it('echoes an allowed origin with credentials, never a wildcard', async () => {
    const r = await rawRequest(s.url, { path: '/healthz', headers: { origin: 'https://app.example' } });
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(String(r.headers.vary)).toMatch(/Origin/i);
  });

  it('gives no CORS headers to other origins', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.example.evil.com', '*']) {
      const r = await rawRequest(s.url, { path: '/healthz', headers: { origin } });
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('answers preflights from allowed origins only', async () => {
    const headers = { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' };
    const ok = await rawRequest(s.url, { method: 'OPTIONS', path: '/push', headers });
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-methods']).toContain('POST');
    const evil = await rawRequest(s.url, {
      method: 'OPTIONS',
      path: '/push',
      headers: { ...headers, origin: 'https://evil.example' },
    });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a wildcard in CORS_ORIGINS at start-up, and sends no CORS headers when unset', async () => {
    expect(() => loadConfig({ JWT_SECRET: TEST_SECRET, CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
    const plain = await startServer();
    try {
      const r = await rawRequest(plain.url, { path: '/healthz', headers: { origin: 'https://app.example' } });
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});

/** A broker whose every call fails with an unexpected error, to see what a 500 looks like. */
class BrokenBroker extends MemoryBroker implements Broker {
  override async publish(): Promise<never> {
    throw new Error('secret internal detail at /srv/app/broker.ts:12:34');
  }
  override publishNow(): never {
    throw new Error('secret internal detail at /srv/app/broker.ts:12:34');
  }
  override async replay(): Promise<never> {
    throw new Error('secret internal detail');
  }
}

describe('error bodies and headers', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  it('answers every error as JSON {error, message} without a stack trace', async () => {
    const pub = { authorization: `Bearer ${pubToken()}` };
    const cases: [number, Parameters<typeof rawRequest>[1]][] = [
      [404, { path: '/nope' }],
      [405, { method: 'DELETE', path: '/push' }],
      [
        400,
        { method: 'POST', path: '/push', headers: { ...pub, 'content-type': 'application/json' }, body: '{' },
      ],
      [415, { method: 'POST', path: '/push', headers: { ...pub, 'content-type': 'text/plain' }, body: 'x' }],
      [
        400,
        {
          method: 'POST',
          path: '/push',
          headers: { ...pub, 'content-type': 'application/json' },
          body: '{}',
        },
      ],
      [401, { path: '/events?token=abc' }],
    ];
    for (const [status, req] of cases) {
      const r = await rawRequest(s.url, req);
      expect(r.status, `${req.method ?? 'GET'} ${req.path}`).toBe(status);
      expect(isJsonError(r), r.body).toBe(true);
      expect(r.body).not.toMatch(/node_modules|\.ts:\d|Error:/);
    }
  });

  it('hides the cause of an unexpected failure behind a plain 500', async () => {
    const config = loadConfig({ JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });
    const server = new SsePushServer(config, {
      broker: new BrokenBroker({ size: 10, ttlMs: 0, maxStreams: 10, maxBytes: 1e6 }),
    });
    const port = await server.listen(0, '127.0.0.1');
    try {
      const r = await rawRequest(`http://127.0.0.1:${port}`, {
        method: 'POST',
        path: '/push',
        headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
        body: '{"data":1}',
      });
      expect(r.status).toBe(500);
      expect(jsonOf(r.body)).toEqual({ error: 'internal', message: 'internal server error' });
      expect(r.body).not.toContain('secret');
    } finally {
      await server.close();
    }
  });

  it('sends security headers, and a strict CSP on the demo page', async () => {
    const page = await rawRequest(s.url, { path: '/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['x-powered-by']).toBeUndefined();
    const api = await rawRequest(s.url, { path: '/healthz' });
    expect(api.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves no demo tokens outside demo mode', async () => {
    const r = await rawRequest(s.url, { path: '/demo/tokens?uid=x' });
    expect(r.status).toBe(404);
  });
});

describe('SSE output cannot be injected into', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  it('refuses event names with newlines, colons of control, or the reserved "reset"', async () => {
    for (const event of ['a\nb', 'a\rdata: x', 'reset', '', 'x'.repeat(65), 'a b', 'é']) {
      const r = await s.push({ event, data: 1 });
      expect(r.status, JSON.stringify(event)).toBe(400);
    }
  });

  it('delivers hostile data as one JSON line that parses back to itself', async () => {
    const c = await openEvents(s.url, subToken('inj'));
    await c.waitForId();
    const hostile = [
      'line1\n\ndata: injected\nid: 999\nevent: reset\n\n',
      'cr\r\rretry: 1\r',
      'sep\u2028\u2029end',
      '\u0000nul',
      { nested: 'x\n\nevent: evil', arr: ['\n', '\r\n'] },
    ];
    for (const data of hostile) expect((await s.push({ to: 'inj', data })).status).toBe(200);
    await c.waitForEvents(hostile.length);
    expect(c.events.map((e) => e.event)).toEqual(hostile.map(() => 'message'));
    expect(c.events.map((e) => JSON.parse(e.data))).toEqual(hostile);
    expect(c.retry).toBe(2000);
    expect(c.events.every((e) => /^[A-Za-z0-9._:-]{1,64}$/.test(e.id ?? ''))).toBe(true);
    c.close();
  });

  it('never echoes a hostile resume id into the stream', async () => {
    const evil = 'x\n\nevent: evil\ndata: {"pwned":true}\n\n';
    const c = await SseClient.open(
      `${s.url}/events?token=${subToken('inj2')}&lastEventId=${encodeURIComponent(evil)}`,
    );
    await c.waitForEvents(1);
    expect(c.status).toBe(200);
    expect(c.events[0]!.event).toBe('reset');
    expect(c.events.some((e) => e.event === 'evil')).toBe(false);
    c.close();
  });
});
