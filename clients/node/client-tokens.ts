/**
 * Tokens the Node client signs itself: HS256 JWTs with `node:crypto` (no JWT library), the
 * publisher tokens it authenticates with (one per scope, cached until shortly before they
 * expire) and the subscriber tokens a backend hands to its pages.
 */
import { createHmac } from 'node:crypto';
import type { Name, PushClientOptions, Scope } from './client-types.js';

const DEFAULT_PUBLISHER_TTL_SEC = 300;
/** A self-signed publisher token is replaced this long before it expires. */
const RENEW_MARGIN_SEC = 30;

function b64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** Signs an HS256 JWT; the server's `jsonwebtoken` accepts it like any other. */
export function signJwt(payload: Record<string, unknown>, secret: string): string {
  const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** The tokens of one client, from its options (`token`, or the secrets to sign with). */
export class Tokens {
  private readonly cached = new Map<Scope, { token: string; renewAt: number }>();

  constructor(private readonly options: PushClientOptions) {}

  /** The `token` option, or one signed for `scope`, cached until shortly before it expires. */
  publisher(scope: Scope): string {
    if (this.options.token) return this.options.token;
    const now = Date.now() / 1000;
    const hit = this.cached.get(scope);
    if (hit && now < hit.renewAt) return hit.token;
    const ttl = this.options.publisherTtlSec ?? DEFAULT_PUBLISHER_TTL_SEC;
    const secret = this.options.publisherSecret ?? this.options.secret!;
    const token = signJwt({ scope, ...this.claims(ttl) }, secret);
    this.cached.set(scope, { token, renewAt: now + Math.max(1, ttl - RENEW_MARGIN_SEC) });
    return token;
  }

  /** A subscriber token for `uid` (and `groups`), valid `ttlSec`; needs the `secret` option. */
  subscriber(uid: Name, groups: Name[], ttlSec: number): string {
    if (!this.options.secret) throw new TypeError('ssepush: subscriberToken needs the "secret" option');
    const payload: Record<string, unknown> = { sub: String(uid), ...this.claims(ttlSec) };
    if (groups.length > 0) payload.groups = groups.map(String);
    return signJwt(payload, this.options.secret);
  }

  private claims(ttlSec: number): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const c: Record<string, unknown> = { iat: now, exp: now + ttlSec };
    if (this.options.issuer) c.iss = this.options.issuer;
    if (this.options.audience) c.aud = this.options.audience;
    return c;
  }
}
