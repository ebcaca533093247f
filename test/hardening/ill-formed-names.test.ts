/**
 * Issue 16.4: names holding ill-formed UTF-16 (a lone surrogate, e.g. an emoji cut in half) are
 * refused at every entry point: push targets, token subjects and groups, presence queries. A
 * byte-keyed store (Redis) would otherwise map them onto the name with U+FFFD in their place.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyBytes, normalizeName } from '../../src/names.js';
import { poll, startServer, subToken, type TestServer } from '../helpers.js';

const ILL_FORMED = [
  '\ud83d',
  '\udc00',
  'a\ud800',
  '\ud800\ud800',
  '\ude00\ud83d',
  `${'x'.repeat(100)}\udfff`,
];

describe('ill-formed UTF-16 names', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(() => s.close());

  it('normalizeName refuses lone surrogates and keeps well-formed names (emoji included)', () => {
    for (const n of ILL_FORMED) expect(normalizeName(n), JSON.stringify(n)).toBeUndefined();
    for (const n of ['\ud83d\ude00', '\ufffd', 'é', 'a\ud800\udc00b']) expect(normalizeName(n)).toBe(n);
  });

  it('keyBytes (Redis keys) is injective over all strings and is UTF-8 for well-formed ones', () => {
    const unit = fc.oneof(
      fc.constantFrom(
        '\ud800',
        '\udbff',
        '\udc00',
        '\udfff',
        '\ud83d',
        '\ude00',
        '\ufffd',
        'a',
        'é',
        '\u0000',
      ),
      fc.string({ unit: 'binary', maxLength: 1 }),
    );
    const str = fc.array(unit, { maxLength: 6 }).map((a) => a.join(''));
    const bytes = (s: string) => Buffer.from(keyBytes(s) as string | Buffer);
    fc.assert(
      fc.property(str, str, (a, b) => {
        if (a !== b)
          expect(bytes(a).equals(bytes(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(false);
        if (normalizeName(a) !== undefined) expect(keyBytes(a)).toBe(a);
      }),
      { numRuns: 2000 },
    );
    expect(bytes('\ud83d\ude00').equals(Buffer.from('😀'))).toBe(true);
  });

  it('push refuses them as uid, group, in a list and in a batch item', async () => {
    for (const n of ILL_FORMED) {
      for (const body of [
        { to: n, data: 1 },
        { group: n, data: 1 },
        { to: ['ok', n], data: 1 },
        [
          { to: 'ok', data: 1 },
          { group: [n], data: 1 },
        ],
      ]) {
        const r = await s.push(body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body).toMatchObject({ error: 'bad_request' });
      }
    }
  });

  it('a token whose sub or groups hold them cannot subscribe (403 JSON), on /events and /poll', async () => {
    for (const n of ILL_FORMED) {
      for (const tok of [subToken(n), subToken('ok', { groups: ['g', n] })]) {
        for (const path of ['/events', '/poll']) {
          const res = await fetch(`${s.url}${path}?token=${encodeURIComponent(tok)}`);
          expect(res.status, `${path} ${JSON.stringify(n)}`).toBe(403);
          const body = (await res.json()) as { error: string; message: string };
          expect(typeof body.message).toBe('string');
        }
      }
    }
  });

  it('nothing pushed to a lone-surrogate name reaches the U+FFFD name', async () => {
    const start = await poll(s.url, subToken('\ufffd'), undefined, 0);
    await s.push({ to: '\ud83d', data: 'secret' });
    const after = await poll(s.url, subToken('\ufffd'), start.cursor, 0);
    expect(after.messages).toEqual([]);
  });
});
