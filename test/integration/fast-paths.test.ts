/**
 * `GET /events` and plain-JSON `POST /push` are served by plain node:http ahead of Express
 * (src/http/events-raw.ts, push-raw.ts); `/events/` and `application/*+json` bodies still take
 * the Express routes. The two paths must answer alike: same status, headers and body.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pubToken, startServer, subToken, type TestServer } from '../helpers.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer({
    MAX_MESSAGE_BYTES: '1000',
    MAX_BODY_BYTES: '4096',
    CORS_ORIGINS: 'http://ok.example',
  });
});
afterAll(async () => {
  await s.close();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request; for a stream, the head and its first two blocks (`retry:`, then the position or reset). */
function call(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${s.url}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
        req.destroy();
      };
      const stream = res.headers['content-type']?.startsWith('text/event-stream') ?? false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        if (stream && text.split('\n\n').length > 2) done();
      });
      res.on('end', done);
      // A stream that never sends its second block fails the comparison instead of hanging.
      if (stream) setTimeout(done, 5000).unref();
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What must not differ between the two paths: ids, dates and stream positions aside. */
function shape(a: Answer) {
  const { date: _date, 'content-length': length, ...headers } = a.headers;
  return {
    status: a.status,
    headers,
    // Ids differ in length from one message to the next; the length must still be the body's.
    lengthMatches: length === undefined || Number(length) === Buffer.byteLength(a.body),
    body: a.body.replace(/"id":"[^"]*"/g, '"id":"X"').replace(/^id:.*$/gm, 'id:X'),
  };
}

const PUB = `Bearer ${pubToken()}`;
const pushBodies: [string, string][] = [
  ['single', '{"to":"a","data":{"x":1}}'],
  ['batch', '[{"to":"a","data":1},{"group":"g","event":"e.1","data":"s"}]'],
  ['broadcast', '{"data":[1,2]}'],
  ['invalid JSON', '{"to":'],
  ['not an object', '"text"'],
  ['empty', ''],
  ['bad event', '{"data":1,"event":"a b"}'],
  ['reserved event', '{"data":1,"event":"reset"}'],
  ['unknown field', '{"data":1,"nope":1}'],
  ['data too large', `{"data":"${'x'.repeat(2000)}"}`],
  ['body too large', `{"data":"${'x'.repeat(5000)}"}`],
];

describe('plain-JSON POST /push answers like the Express route', () => {
  for (const [name, body] of pushBodies) {
    it(name, async () => {
      const b = Buffer.from(body);
      const raw = await call('POST', '/push', { authorization: PUB, 'content-type': 'application/json' }, b);
      const viaExpress = await call(
        'POST',
        '/push',
        { authorization: PUB, 'content-type': 'application/merge-patch+json' },
        b,
      );
      expect(shape(raw)).toEqual(shape(viaExpress));
    });
  }

  for (const [name, headers] of [
    ['no token', {}],
    ['bad token', { authorization: 'Bearer nope' }],
    ['subscriber token', { authorization: `Bearer ${subToken('a')}` }],
    ['CORS origin', { authorization: PUB, origin: 'http://ok.example' }],
  ] as [string, Record<string, string>][]) {
    it(name, async () => {
      const b = Buffer.from('{"data":1}');
      const raw = await call('POST', '/push', { ...headers, 'content-type': 'application/json' }, b);
      const viaExpress = await call(
        'POST',
        '/push',
        { ...headers, 'content-type': 'application/vnd.x+json' },
        b,
      );
      expect(shape(raw)).toEqual(shape(viaExpress));
    });
  }

  it('takes a UTF-8 BOM and an explicit charset like body-parser', async () => {
    const b = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"data":"é"}')]);
    const res = await call(
      'POST',
      '/push',
      { authorization: PUB, 'content-type': 'application/json; charset=UTF-8' },
      b,
    );
    expect(res.status).toBe(200);
  });
});

describe('GET /events answers like the Express route', () => {
  const sub = subToken('a', { groups: ['g'] });
  for (const [name, query, headers] of [
    ['fresh stream', `?token=${sub}`, {}],
    ['resumed with a garbage id', `?token=${sub}&lastEventId=nope`, {}],
    ['bearer header and Last-Event-ID', '', { authorization: `Bearer ${sub}`, 'last-event-id': '1-1' }],
    ['cookie token', '', { cookie: `x=1; ssepush_token=${sub}` }],
    ['CORS origin', `?token=${sub}`, { origin: 'http://ok.example' }],
    ['no token', '', {}],
    ['bad token', '?token=nope', {}],
    ['publisher token', `?token=${pubToken()}`, {}],
    ['token given twice', `?token=${sub}&token=${sub}`, {}],
  ] as [string, string, Record<string, string>][]) {
    it(name, async () => {
      const raw = await call('GET', `/events${query}`, { accept: 'text/event-stream', ...headers });
      const viaExpress = await call('GET', `/events/${query}`, { accept: 'text/event-stream', ...headers });
      expect(shape(raw)).toEqual(shape(viaExpress));
    });
  }
});
