/**
 * Issue 16, the edge's part: sockets the server has answered are closed, a pipelined socket
 * holds at most one stream or poll, demo mode never signs with a configured secret, a token of
 * another key family is a 401, and the smaller input checks (gzip, form `type`, key mixes).
 */
import { generateKeyPairSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTokens } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';
import { pubToken, startServer, subToken, TEST_SECRET, type TestServer } from '../helpers.js';
import { isJsonError, rawRequest } from './raw.js';

let s: TestServer;
const sockets: Socket[] = [];
beforeAll(async () => {
  s = await startServer({ MAX_CONNECTIONS_PER_UID: '0' });
});
afterAll(async () => {
  for (const sock of sockets) sock.destroy();
  await s.close();
});

/** A client socket that keeps its own half open after the server ends, as an attacker's would. */
function halfOpen(): Promise<{ sock: Socket; text: () => string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const sock = connect({ host: '127.0.0.1', port: s.port, allowHalfOpen: true }, () =>
      resolve({ sock, text: () => text }),
    );
    sockets.push(sock);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      text += c;
    });
    sock.on('error', () => {});
    sock.once('error', reject);
  });
}

const serverConnections = () =>
  new Promise<number>((resolve, reject) =>
    s.server.http.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('answered sockets are closed (16.1)', () => {
  it.each([
    ['a malformed request (400)', 'NOT HTTP AT ALL\r\n\r\n', 400],
    ['a head over 16 KiB (431)', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])(
    'closes the socket after answering %s, even if the client keeps its half open',
    async (_n, raw, status) => {
      const c = await halfOpen();
      c.sock.write(raw);
      await until('the answer', () => c.text().includes('\r\n\r\n{'));
      expect(c.text()).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      await until('the server to close the socket', async () => (await serverConnections()) === 0);
    },
  );
});

describe('pipelined long requests (16.2)', () => {
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

  it('opens one stream per socket, and none stays registered after the socket is gone', async () => {
    const c = await halfOpen();
    const token = subToken('piped');
    c.sock.write(get(`/events?token=${token}`).repeat(17));
    await until('the first stream', () => /\nid:\S+\n\n/.test(c.text()));
    await until('the pipelined requests to be refused', () => s.server.hub.counts.streams === 1);
    expect(s.server.hub.counts.streams).toBe(1);
    c.sock.destroy();
    await until('every stream to go', () => s.server.hub.counts.streams === 0);
  });

  it('holds one waiting poll per socket, and none after the socket is gone', async () => {
    const token = subToken('piped-poll');
    const first = await rawRequest(s.url, { path: `/poll?token=${token}` });
    const cursor = (JSON.parse(first.body) as { cursor: string }).cursor;
    const c = await halfOpen();
    c.sock.write(get(`/poll?token=${token}&cursor=${encodeURIComponent(cursor)}&timeout=30`).repeat(5));
    await until('the first poll to wait', () => s.server.hub.counts.polls === 1);
    // Give the queued requests the time to be parsed and (wrongly) registered.
    await rawRequest(s.url, { path: '/healthz' });
    expect(s.server.hub.counts.polls).toBe(1);
    c.sock.destroy();
    await until('every poll to go', () => s.server.hub.counts.polls === 0);
  });
});

describe('demo mode (16.8)', () => {
  it('refuses PUBLISHER_JWT_SECRET without JWT_SECRET instead of signing demo tokens with it', () => {
    expect(() => loadConfig({ PUBLISHER_JWT_SECRET: 'publisher-secret-0123456789' })).toThrow(
      /PUBLISHER_JWT_SECRET/,
    );
  });

  it('signs demo tokens only with the generated key', () => {
    const demo = loadConfig({});
    expect(demo.demo).toBe(true);
    const { publisher } = demoTokens(demo, 'u', []);
    expect(jwt.verify(publisher, demo.jwtKey)).toMatchObject({ scope: 'push' });
    expect(() => demoTokens({ ...demo, publisherKey: 'a-configured-secret-0123' }, 'u', [])).toThrow();
    expect(() => demoTokens(loadConfig({ JWT_SECRET: TEST_SECRET }), 'u', [])).toThrow();
  });
});

describe('a token of another key family is a 401 (16.9)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (k: typeof rsa.publicKey) => k.export({ type: 'spki', format: 'pem' }).toString();

  it.each([
    ['an ES256 token against an RSA key', pem(rsa.publicKey), ec.privateKey, 'ES256'],
    ['an RS256 token against an EC key', pem(ec.publicKey), rsa.privateKey, 'RS256'],
  ] as const)('answers %s with 401 on every route', async (_n, publicKey, signer, alg) => {
    const server = await startServer({ JWT_SECRET: '', JWT_PUBLIC_KEY: publicKey });
    try {
      const sub = jwt.sign({ sub: 'u' }, signer, { algorithm: alg });
      const pub = jwt.sign({ scope: 'push' }, signer, { algorithm: alg });
      for (const [method, path, token] of [
        ['GET', '/events', sub],
        ['GET', '/poll', sub],
        ['POST', '/push', pub],
        ['GET', '/online', pub],
      ] as const) {
        const r = await rawRequest(server.url, {
          method,
          path,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: method === 'POST' ? '{"data":1}' : undefined,
        });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(JSON.parse(r.body)).toEqual({ error: 'invalid_token', message: expect.any(String) });
      }
    } finally {
      await server.close();
    }
  });
});

describe('smaller edge checks (16.10)', () => {
  const pub = { authorization: `Bearer ${pubToken()}` };

  it('answers a body that is not valid gzip with 400, not 500', async () => {
    for (const body of ['not gzip at all', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])]) {
      const r = await rawRequest(s.url, {
        method: 'POST',
        path: '/push',
        headers: { ...pub, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
      });
      expect(r.status).toBe(400);
      expect(isJsonError(r)).toBe(true);
    }
  });

  it('refuses a form push whose type is not publish', async () => {
    const form = { ...pub, 'content-type': 'application/x-www-form-urlencoded' };
    for (const type of ['subscribe', '', 'Publish']) {
      const r = await rawRequest(s.url, {
        method: 'POST',
        path: '/push',
        headers: form,
        body: `type=${type}&content=x`,
      });
      expect(r.status, type).toBe(400);
    }
    const ok = await rawRequest(s.url, {
      method: 'POST',
      path: '/push',
      headers: form,
      body: 'type=publish&content=x',
    });
    expect(ok.status).toBe(200);
  });

  it('refuses JWT_PUBLIC_KEY with PUBLISHER_JWT_SECRET at start-up, naming both', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const env = {
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      PUBLISHER_JWT_SECRET: 'publisher-secret-0123456789',
    };
    expect(() => loadConfig(env)).toThrow(/PUBLISHER_JWT_SECRET.*JWT_PUBLIC_KEY/);
  });
});
