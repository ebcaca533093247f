/**
 * Differential test of the direct HMAC verification (`verifyHmacJwt`) against jsonwebtoken, which
 * it short-cuts: on random and crafted tokens it must accept exactly what `jwt.verify` accepts
 * with an object payload (and return the same payload), and nothing else.
 */
import { createHmac, createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import jwt, { type Algorithm } from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HmacVerifyOptions, verifyHmacJwt } from '../../src/jwt-hmac.js';

const SECRET = 'differential-secret-0123456789abcdef';
const KEY = createSecretKey(Buffer.from(SECRET));
const NOW = 1_800_000_000;

/** jsonwebtoken's verdict as `Auth` asks for it: the payload if accepted as an object, else undefined. */
function reference(token: string, key: KeyObject, o: HmacVerifyOptions): unknown {
  try {
    const p = jwt.verify(token, key, {
      algorithms: [...o.jwtAlgorithms],
      issuer: o.jwtIssuer,
      audience: o.jwtAudience,
      clockTolerance: o.jwtClockToleranceSec,
    });
    return typeof p === 'object' && p !== null && !Array.isArray(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

const b64 = (text: string, enc: BufferEncoding = 'utf8') => Buffer.from(text, enc).toString('base64url');
const hmac = (alg: string, input: string, secret: string) =>
  createHmac(`sha${alg.slice(2)}`, secret)
    .update(input)
    .digest('base64url');

const options = fc.record({
  jwtAlgorithms: fc.constantFrom<Algorithm[]>(['HS256'], ['HS256', 'HS384', 'HS512'], ['HS512'], ['HS384']),
  jwtIssuer: fc.constantFrom(undefined, 'app'),
  jwtAudience: fc.constantFrom(undefined, 'push'),
  jwtClockToleranceSec: fc.constantFrom(0, 5),
});

const time = fc.oneof(
  fc.integer({ min: NOW - 12, max: NOW + 12 }),
  fc.constantFrom<unknown>('soon', null, true, -1, NOW + 0.5, [NOW]),
);

const claims = fc.record(
  {
    sub: fc.oneof(fc.string(), fc.integer()),
    groups: fc.array(fc.string(), { maxLength: 3 }),
    scope: fc.constantFrom('push', 'read push', ['push']),
    exp: time,
    nbf: time,
    iat: time,
    iss: fc.constantFrom<unknown>('app', 'App', 'other', ['app'], 1, ''),
    aud: fc.constantFrom<unknown>('push', 'x', ['push', 'y'], ['y'], [], 1, ''),
  },
  { requiredKeys: [] },
);

const payloadText = fc.oneof(
  { arbitrary: claims.map((c) => JSON.stringify(c)), weight: 6 },
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '',
    'null',
    '[]',
    '"str"',
    '42',
    '{"sub":"a"',
    '{"sub":"\u00e9"}',
    ' {"sub":"a"} ',
    '{"sub":"a","exp":1e400}',
    '{"sub":"a","nbf":-1e400}',
    '{"sub":"a","__proto__":{"exp":1}}',
  ),
  fc.string(),
);

const header = fc.oneof(
  fc.record(
    {
      alg: fc.constantFrom<unknown>('HS256', 'HS384', 'HS512', 'hs256', 'HS257', 'RS256', 'none', 1, null),
      typ: fc.constantFrom<unknown>('JWT', 'jwt', 'JOSE', 1),
      kid: fc.string(),
    },
    { requiredKeys: ['alg'] },
  ),
  fc.constantFrom<unknown>(null, 0, 1, false, true, '', 'HS256', ['HS256'], {}),
);

/** How the header text is encoded: normally JSON as UTF-8, sometimes oddities jws decodes as latin1. */
const headerText = fc.oneof(
  {
    arbitrary: fc
      .constantFrom('HS256', 'HS384', 'HS512')
      .map((alg) => b64(JSON.stringify({ alg, typ: 'JWT' }))),
    weight: 6,
  },
  { arbitrary: header.map((h) => b64(JSON.stringify(h))), weight: 3 },
  header.map((h) => b64(JSON.stringify(h), 'latin1')),
  fc.constantFrom(
    b64('{"alg":"HS256","x":"\u00e9"}'),
    b64('{"alg":"HS256"'),
    b64(''),
    b64(' {"alg":"HS256"} '),
  ),
);

type Sig = 'right' | 'wrong-key' | 'other-alg' | 'empty' | 'flipped' | 'padded' | 'random';
const signature = fc.constantFrom<Sig>(
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'wrong-key',
  'other-alg',
  'empty',
  'flipped',
  'padded',
  'random',
);

/** Whole-token mutations jws's format test must catch the same way. */
const mutation = fc.constantFrom(
  (t: string) => t,
  (t: string) => t,
  (t: string) => t,
  (t: string) => t,
  (t: string) => t,
  (t: string) => t,
  (t: string) => `${t}=`,
  (t: string) => ` ${t}`,
  (t: string) => `${t}.x`,
  (t: string) => t.replace('-', '+').replace('_', '/'),
  (t: string) => t.replace('.', '..'),
);

function tokenOf(h: string, p: string, sig: Sig, mutate: (t: string) => string, rnd: string): string {
  const input = `${h}.${p}`;
  let alg = 'HS256';
  try {
    const parsed: unknown = JSON.parse(Buffer.from(h, 'base64').toString('latin1'));
    const a = (parsed as { alg?: unknown } | null)?.alg;
    if (a === 'HS384' || a === 'HS512') alg = a;
  } catch {
    // not JSON: sign as HS256
  }
  const right = hmac(alg, input, SECRET);
  const s: Record<Sig, string> = {
    right,
    'wrong-key': hmac(alg, input, `${SECRET}x`),
    'other-alg': hmac(alg === 'HS256' ? 'HS512' : 'HS256', input, SECRET),
    empty: '',
    flipped: `${right.slice(0, -1)}${right.endsWith('A') ? 'B' : 'A'}`,
    padded: createHmac(`sha${alg.slice(2)}`, SECRET)
      .update(input)
      .digest('base64'),
    random: rnd,
  };
  return mutate(`${input}.${s[sig]}`);
}

describe('verifyHmacJwt against jsonwebtoken', () => {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW * 1000 + 400);
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('accepts exactly what jsonwebtoken accepts, with the same payload (random and crafted tokens)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        headerText,
        payloadText,
        signature,
        mutation,
        fc.stringMatching(/^[A-Za-z0-9_-]{0,90}$/),
        options,
        (h, p, sig, mutate, rnd, o) => {
          const token = tokenOf(h, b64(p), sig, mutate, rnd);
          const want = reference(token, KEY, o);
          expect(verifyHmacJwt(token, KEY, o)).toEqual(want);
          if (want !== undefined) accepted++;
        },
      ),
      { numRuns: 4000 },
    );
    // The generators must reach acceptance often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(10);
  });

  it('agrees on claims at the exp/nbf/tolerance boundaries, issuer and audience', () => {
    let accepted = 0;
    fc.assert(
      fc.property(claims, options, (c, o) => {
        const token = tokenOf(
          b64('{"alg":"HS256","typ":"JWT"}'),
          b64(JSON.stringify(c)),
          'right',
          (t) => t,
          '',
        );
        const want = reference(token, KEY, o);
        expect(verifyHmacJwt(token, KEY, o)).toEqual(want);
        if (want !== undefined) accepted++;
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('agrees on arbitrary strings', () => {
    const o: HmacVerifyOptions = {
      jwtAlgorithms: ['HS256'],
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtClockToleranceSec: 5,
    };
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (t) => {
        expect(verifyHmacJwt(t, KEY, o)).toEqual(reference(t, KEY, o));
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts anything for an asymmetric key (jsonwebtoken keeps those)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const o: HmacVerifyOptions = {
      jwtAlgorithms: ['ES256'],
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtClockToleranceSec: 5,
    };
    const token = tokenOf(b64('{"alg":"HS256"}'), b64('{"sub":"a"}'), 'right', (t) => t, '');
    expect(verifyHmacJwt(token, publicKey, o)).toBeUndefined();
  });
});
