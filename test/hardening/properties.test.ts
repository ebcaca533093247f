/**
 * Property-based tests (fast-check) over what a client controls: push bodies, query strings and
 * headers. Whatever is sent, the server never answers 5xx, every error is JSON with `error` and
 * `message`, and it is still healthy and delivering afterwards.
 */
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, pubToken, startServer, subToken, type TestServer } from '../helpers.js';
import { isJsonError, type RawResponse } from './raw.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

/** One request; a 200 event stream is read for 50 ms and then dropped. */
function probe(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      res.on('end', done);
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        setTimeout(() => {
          req.destroy();
          done();
        }, 20);
      }
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body);
  });
}

/** The contract for any answer: no 5xx, and any 4xx is a JSON error. */
function contract(r: RawResponse, what: string): void {
  expect(r.status, what).toBeLessThan(500);
  if (r.status >= 400) expect(isJsonError(r), `${what} → ${r.status} ${r.body}`).toBe(true);
}

const printable = fc.string({
  unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCZ[\\]^_`abcz{|}~\té'.split('')),
  maxLength: 40,
});
const urlChars = fc.string({
  unit: fc.constantFrom(..."abcxyz019-._~%&=+[]!$'()*,;:@/?".split('')),
  maxLength: 60,
});
const jsonLeaf = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('reset', 'a\nb', '', 'x'.repeat(200), -1, 2 ** 60, '__proto__', 'constructor'),
  // Ill-formed UTF-16 (issue 16.4): lone surrogates, which UTF-8 stores would read as U+FFFD.
  fc.constantFrom('\ud83d', '\udc00', 'a\ud800b', '\ude00\ud83d', '\ufffd'),
);
const field = fc.oneof(
  jsonLeaf,
  fc.array(jsonLeaf, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), jsonLeaf),
);
const pushObject = fc.record(
  {
    to: field,
    group: field,
    event: field,
    data: fc.jsonValue({ maxDepth: 3 }),
    content: field,
    extra: field,
  },
  { requiredKeys: [] },
);

describe('property: hostile input never breaks the server', () => {
  let s: TestServer;
  const pub = pubToken();
  beforeAll(async () => {
    s = await startServer({ MAX_BODY_BYTES: '8192', MAX_MESSAGE_BYTES: '1024' });
  });
  afterAll(() => s.close());

  it('push bodies: any JSON, any object shape, any batch', async () => {
    const body = fc.oneof(
      pushObject.map((o) => JSON.stringify(o)),
      fc.array(pushObject, { maxLength: 5 }).map((a) => JSON.stringify(a)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const r = await probe(
          s.port,
          'POST',
          '/push',
          { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
          b,
        );
        contract(r, b);
        if (r.status === 200) expect(r.body).toMatch(/"id":"[A-Za-z0-9]+-\d+"/);
      }),
      { numRuns: RUNS },
    );
  });

  it('push bodies as forms and under random content types', async () => {
    const form = fc
      .array(
        fc.tuple(
          fc.constantFrom('to', 'group', 'event', 'data', 'content', 'type', 'x'),
          fc.string({ maxLength: 30 }),
        ),
        {
          maxLength: 6,
        },
      )
      .map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&'));
    const ctype = fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/json',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      '',
      'garbage',
    );
    await fc.assert(
      fc.asyncProperty(form, ctype, urlChars, async (b, ct, junk) => {
        const headers: Record<string, string> = { authorization: `Bearer ${pub}` };
        if (ct) headers['content-type'] = ct;
        contract(await probe(s.port, 'POST', '/push', headers, b), `${ct} ${b}`);
        contract(await probe(s.port, 'POST', '/push', headers, junk), `${ct} ${junk}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('query strings on every route', async () => {
    const paths = fc.constantFrom(
      '/events',
      '/poll',
      '/online',
      '/push',
      '/healthz',
      '/demo/tokens',
      '/nope',
      '/',
    );
    const query = fc.oneof(
      urlChars,
      fc
        .array(
          fc.tuple(
            fc.constantFrom('token', 'cursor', 'timeout', 'uid', 'lastEventId', 'x'),
            fc.string({ maxLength: 40 }),
          ),
          {
            maxLength: 5,
          },
        )
        .map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
    );
    const withToken = fc.constantFrom('none', 'sub', 'pub');
    await fc.assert(
      fc.asyncProperty(
        paths,
        query,
        withToken,
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD'),
        async (p, q, t, m) => {
          const token = t === 'sub' ? `token=${subToken('prop')}&` : t === 'pub' ? `token=${pub}&` : '';
          const r = await probe(s.port, m, `${p}?${token}${q}`, {});
          expect(r.status).toBeLessThan(500);
          if (r.status >= 400 && m !== 'HEAD')
            expect(isJsonError(r), `${m} ${p}?${q} → ${r.status} ${r.body}`).toBe(true);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('headers: tokens, resume ids, cookies, origins, content types', async () => {
    const headerSet = fc.record(
      {
        authorization: fc.oneof(
          printable,
          printable.map((x) => `Bearer ${x}`),
          fc.constant(`Bearer ${subToken('h')}`),
        ),
        'last-event-id': printable,
        cookie: fc.oneof(
          printable,
          printable.map((x) => `ssepush_token=${x}`),
        ),
        origin: printable,
        'content-type': printable,
        accept: printable,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/events', '/poll', '/online', '/push'), headerSet, async (p, h) => {
        contract(
          await probe(s.port, p === '/push' ? 'POST' : 'GET', p, h, p === '/push' ? '{"data":1}' : undefined),
          `${p} ${JSON.stringify(h)}`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('any resume id on /events is a 200 stream (never an error EventSource would give up on)', async () => {
    await fc.assert(
      fc.asyncProperty(printable, async (id) => {
        const r = await probe(s.port, 'GET', `/events?token=${subToken('resume')}`, { 'last-event-id': id });
        expect(r.status).toBe(200);
        expect(r.body).toMatch(/^retry:\d+\n\n/);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it('answers HEAD /events at once instead of holding a body-less stream open', async () => {
    const r = await probe(s.port, 'HEAD', `/events?token=${subToken('head')}`, {});
    expect(r.status).toBe(200);
    expect(s.server.hub.counts.streams).toBe(0);
  });

  it('names with a lone surrogate anywhere are refused as push targets and token subjects', async () => {
    const lone = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d');
    const illFormed = fc
      .tuple(fc.string({ maxLength: 20 }), lone, fc.string({ maxLength: 20 }))
      .filter(([a, , b]) => !/[\ud800-\udbff]$/.test(a) && !/^[\udc00-\udfff]/.test(b))
      .map(([a, l, b]) => a + l + b);
    await fc.assert(
      fc.asyncProperty(illFormed, fc.constantFrom('to', 'group', 'sub', 'groups'), async (name, where) => {
        if (where === 'sub' || where === 'groups') {
          const tok = where === 'sub' ? subToken(name) : subToken('ok', { groups: [name] });
          const r = await probe(s.port, 'GET', `/poll?timeout=0&token=${tok}`, {});
          expect(r.status, JSON.stringify(name)).toBe(403);
          contract(r, JSON.stringify(name));
        } else {
          const r = await probe(
            s.port,
            'POST',
            '/push',
            { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
            JSON.stringify({ [where]: name, data: 1 }),
          );
          expect(r.status, JSON.stringify(name)).toBe(400);
          contract(r, JSON.stringify(name));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('is healthy and delivering afterwards', async () => {
    const health = await fetch(`${s.url}/healthz`);
    expect(health.status).toBe(200);
    const c = await openEvents(s.url, subToken('after'));
    await c.waitForId();
    expect((await s.push({ to: 'after', data: 'ok' })).status).toBe(200);
    await c.waitForEvents(1);
    expect(c.events[0]!.data).toBe('"ok"');
    c.close();
  });
});
