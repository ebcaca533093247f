import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Config } from './config.js';
import { forbidden, SsePushError, unauthorized } from './errors.js';
import { verifyHmacJwt } from './jwt-hmac.js';
import { normalizeName } from './names.js';

/** Who an SSE or long-poll connection belongs to, from a verified subscriber token. */
export interface Subscriber {
  readonly uid: string;
  readonly groups: readonly string[];
  /** When the token stops being accepted (exp + clock tolerance), ms since the epoch; `undefined` without exp. */
  readonly expiresAt: number | undefined;
  /** The token's `iat` (seconds since the epoch), checked against revocations; `undefined` without one. */
  readonly issuedAt?: number | undefined;
}

/** What a publisher token may do: `push` publishes, `control` kicks, revokes and regroups; both read presence. */
export type Scope = 'push' | 'control';
/** The same, under the name the routes use. */
export type PublisherScope = Scope;

/** Scopes that make a token a publisher token, never a subscriber one. */
const PUBLISHER_SCOPES: readonly Scope[] = ['push', 'control'];

/** Verified tokens kept to skip signature checks on hot paths (bounded, and never past `exp`). */
const CACHE_MAX = 10_000;

function scopes(payload: JwtPayload): string[] {
  const s: unknown = payload.scope;
  if (typeof s === 'string') return s.split(' ');
  if (Array.isArray(s)) return s.filter((x): x is string => typeof x === 'string');
  return [];
}

/**
 * Verifies subscriber and publisher tokens against the configured keys and allowlisted
 * algorithms. Subscriber tokens need `sub`; publisher tokens need `push` (publish) or `control`
 * (kick, revoke) in `scope`, and a publisher token is not accepted as a subscriber token (nor
 * the reverse).
 */
/**
 * The key as jsonwebtoken derives it (a PEM public key, else the HMAC secret's bytes), built once.
 * Given a string, jsonwebtoken re-derives it on every verify, starting with a PEM parse that fails
 * for every HMAC secret: that cost more CPU than the rest of accepting a subscription.
 */
function keyObject(key: string): KeyObject {
  try {
    return createPublicKey(key);
  } catch {
    return createSecretKey(Buffer.from(key));
  }
}

export class Auth {
  // `ttlResolution: 0`: lru-cache otherwise caches its clock for 1 ms behind a fresh `setTimeout`
  // (a timer per millisecond of lookups on the push path) and may serve an entry up to that late.
  private readonly subscribers = new LRUCache<string, Subscriber>({
    max: CACHE_MAX,
    ttlAutopurge: false,
    ttlResolution: 0,
  });
  private readonly publishers = new LRUCache<string, Scope[]>({ max: 1000, ttlResolution: 0 });

  private readonly subscriberKey: KeyObject;
  private readonly publisherKey: KeyObject;

  constructor(private readonly config: Config) {
    this.subscriberKey = keyObject(config.jwtKey);
    this.publisherKey =
      config.publisherKey === config.jwtKey ? this.subscriberKey : keyObject(config.publisherKey);
  }

  private verify(token: string, key: KeyObject): JwtPayload {
    if (token.length > this.config.maxTokenBytes) throw unauthorized('token is too long');
    // HMAC tokens jsonwebtoken would accept are checked directly; the rest (asymmetric keys, and
    // every refusal, so its reason) go through jsonwebtoken.
    const accepted = verifyHmacJwt(token, key, this.config);
    if (accepted) return accepted;
    try {
      const payload = jwt.verify(token, key, {
        algorithms: [...this.config.jwtAlgorithms],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
        clockTolerance: this.config.jwtClockToleranceSec,
      });
      if (typeof payload === 'string') throw unauthorized('token payload must be a JSON object');
      return payload;
    } catch (err) {
      if (err instanceof SsePushError) throw err;
      if (err instanceof jwt.TokenExpiredError) throw unauthorized('token expired', 'token_expired');
      if (err instanceof jwt.JsonWebTokenError || err instanceof jwt.NotBeforeError) {
        throw unauthorized(`invalid token: ${this.explain(token, key, err.message)}`);
      }
      // Anything else the verifier throws is still about the token: a header naming another key
      // family (ES256 against an RSA key) makes node:crypto throw a plain error. Never a 500.
      throw unauthorized('invalid token: it cannot be verified with the configured key');
    }
  }

  /** jsonwebtoken's reason, with what most likely went wrong for the person reading it. */
  private explain(token: string, key: KeyObject, reason: string): string {
    if (/^bearer[\s+]/i.test(token)) {
      return 'it starts with "Bearer": pass the token alone in ?token= or the cookie ("Bearer " belongs only in the Authorization header)';
    }
    if (reason === 'invalid signature') {
      const setting =
        key === this.publisherKey && this.config.publisherKey !== this.config.jwtKey
          ? 'PUBLISHER_JWT_SECRET'
          : this.config.jwtKey.includes('-----BEGIN')
            ? 'JWT_PUBLIC_KEY'
            : 'JWT_SECRET';
      return `invalid signature: the secret your backend signs with (e.g. SSEPUSH_SECRET) must equal the server's ${setting}`;
    }
    if (reason === 'jwt malformed' || reason === 'invalid token') {
      return 'not a JWT (three base64url parts joined by dots)';
    }
    return reason;
  }

  /** Verifies a subscriber token; throws 401/403 errors. */
  subscriber(token: string): Subscriber {
    const cached = this.subscribers.get(token);
    if (cached) return cached;
    const payload = this.verify(token, this.subscriberKey);
    const own = scopes(payload);
    if (PUBLISHER_SCOPES.some((s) => own.includes(s))) {
      throw forbidden('a publisher token cannot subscribe', 'wrong_token_type');
    }
    const uid = normalizeName(payload.sub);
    if (uid === undefined) throw forbidden('subscriber token needs a valid "sub" claim', 'missing_sub');
    const rawGroups: unknown = payload.groups ?? [];
    if (!Array.isArray(rawGroups)) throw forbidden('"groups" claim must be an array', 'bad_groups');
    if (rawGroups.length > this.config.maxGroupsPerToken) {
      throw forbidden(`token names more than ${this.config.maxGroupsPerToken} groups`, 'too_many_groups');
    }
    const groups: string[] = [];
    for (const g of rawGroups) {
      const name = normalizeName(g);
      if (name === undefined) throw forbidden('"groups" claim holds an invalid group name', 'bad_groups');
      if (!groups.includes(name)) groups.push(name);
    }
    // The stream ends when verification would start failing: at exp plus the tolerated skew
    // (ending it earlier would make the client reconnect with a token we still accept, in a loop).
    const expiresAt =
      typeof payload.exp === 'number' ? (payload.exp + this.config.jwtClockToleranceSec) * 1000 : undefined;
    const issuedAt = typeof payload.iat === 'number' ? payload.iat : undefined;
    const sub: Subscriber = Object.freeze({ uid, groups: Object.freeze(groups), expiresAt, issuedAt });
    this.cache(this.subscribers, token, sub, expiresAt);
    return sub;
  }

  /**
   * Verifies a publisher token whose `scope` holds `accept` (or, given a list, any of them;
   * default `push`); throws 401 for a bad token, 403 `insufficient_scope` for a good one without it.
   */
  publisher(token: string, accept: Scope | readonly Scope[] = ['push']): void {
    let own = this.publishers.get(token);
    if (!own) {
      const payload = this.verify(token, this.publisherKey);
      own = scopes(payload).filter((s): s is Scope => (PUBLISHER_SCOPES as readonly string[]).includes(s));
      this.cache(
        this.publishers,
        token,
        own,
        typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
      );
    }
    const wanted = typeof accept === 'string' ? [accept] : accept;
    if (!wanted.some((s) => own.includes(s))) {
      const names = wanted.map((s) => `"${s}"`).join(' or ');
      throw forbidden(`token lacks the ${names} scope`, 'insufficient_scope');
    }
  }

  private cache<V extends {}>(
    c: LRUCache<string, V>,
    token: string,
    v: V,
    expiresAt: number | undefined,
  ): void {
    // Cache at most a minute, and never beyond expiry (minus the tolerated skew, to be safe).
    const ttl = Math.min(60_000, expiresAt === undefined ? 60_000 : expiresAt - Date.now());
    if (ttl > 1000) c.set(token, v, { ttl });
  }
}

/** Options for minting tokens (CLI, demo tokens, tests). */
export interface MintOptions {
  sub?: string;
  groups?: string[];
  push?: boolean;
  /** Adds the `control` scope (kick, revoke); with `push` the token does both. */
  control?: boolean;
  ttlSec?: number;
}

/** Signs a token with the configured HMAC key; asymmetric setups sign in the web app instead. */
export function mintToken(config: Config, opts: MintOptions): string {
  if (!config.jwtAlgorithms[0]?.startsWith('HS')) {
    throw new Error('minting needs an HMAC key (JWT_SECRET); with JWT_PUBLIC_KEY sign with your private key');
  }
  const payload: Record<string, unknown> = {};
  if (opts.sub !== undefined) payload.sub = opts.sub;
  if (opts.groups && opts.groups.length > 0) payload.groups = opts.groups;
  const scope = [...(opts.push ? ['push'] : []), ...(opts.control ? ['control'] : [])];
  if (scope.length > 0) payload.scope = scope.join(' ');
  const key = scope.length > 0 ? config.publisherKey : config.jwtKey;
  return jwt.sign(payload, key, {
    algorithm: config.jwtAlgorithms[0],
    ...(opts.ttlSec ? { expiresIn: opts.ttlSec } : {}),
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  });
}

/**
 * The demo page's token pair. Demo mode has no configured key, only the one generated at start
 * (see `loadConfig`); this refuses to sign with anything else, so a configured secret never ends
 * up in a token handed to an anonymous caller.
 */
export function demoTokens(
  config: Config,
  uid: string,
  groups: string[],
): { subscriber: string; publisher: string } {
  if (!config.demo || config.publisherKey !== config.jwtKey) {
    throw new Error('demo tokens are only signed with the key generated in demo mode');
  }
  return {
    subscriber: mintToken(config, { sub: uid, groups, ttlSec: 3600 }),
    publisher: mintToken(config, { push: true, ttlSec: 3600 }),
  };
}
