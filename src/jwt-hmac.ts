import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { JwtPayload } from 'jsonwebtoken';
import type { Config } from './config.js';

/** What jsonwebtoken checks a token against, as `Auth` configures it. */
export type HmacVerifyOptions = Pick<
  Config,
  'jwtAlgorithms' | 'jwtIssuer' | 'jwtAudience' | 'jwtClockToleranceSec'
>;

/** jws's test of a compact JWS, as jsonwebtoken applies it. */
const JWS = /^[a-zA-Z0-9\-_]+?\.[a-zA-Z0-9\-_]+?\.([a-zA-Z0-9\-_]+)?$/;

const HASH: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The payload of an HMAC-signed token that `jsonwebtoken.verify(token, key, options)` would
 * accept with an object payload, checked the way it does (jws's format test and decoding, the
 * algorithm allowlist, one HMAC compared in constant time, nbf/exp with the clock tolerance,
 * aud, iss), without its decoding twice, its per-call option handling and its jws/jwa layers.
 * `undefined` for anything else, including every refusal: the caller then asks jsonwebtoken,
 * which gives the reason. So this only decides faster what jsonwebtoken accepts; a differential
 * property test (`test/unit/jwt-hmac.test.ts`) holds it to exactly that.
 */
export function verifyHmacJwt(token: string, key: KeyObject, o: HmacVerifyOptions): JwtPayload | undefined {
  if (key.type !== 'secret' || !JWS.test(token)) return undefined;
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  const header = parse(Buffer.from(token.slice(0, dot1), 'base64').toString('latin1'));
  if (!isObject(header) || typeof header.alg !== 'string') return undefined;
  const alg = header.alg;
  const hash = HASH[alg];
  if (hash === undefined || !o.jwtAlgorithms.includes(alg as (typeof o.jwtAlgorithms)[number]))
    return undefined;
  const given = Buffer.from(token.slice(dot2 + 1));
  const expected = Buffer.from(createHmac(hash, key).update(token.slice(0, dot2)).digest('base64url'));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const payload = parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64').toString('utf8'));
  if (!isObject(payload)) return undefined;
  const now = Math.floor(Date.now() / 1000);
  const tolerance = o.jwtClockToleranceSec || 0;
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now + tolerance))
    return undefined;
  if (payload.exp !== undefined && (typeof payload.exp !== 'number' || now >= payload.exp + tolerance))
    return undefined;
  if (o.jwtAudience) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(o.jwtAudience)) return undefined;
  }
  if (o.jwtIssuer && payload.iss !== o.jwtIssuer) return undefined;
  return payload;
}
