/**
 * The backend client for Node: signs its own publisher tokens (or uses a given one), pushes
 * through `POST /push`, asks `GET /online`, and mints subscriber tokens to hand to a page.
 * It imports nothing from the server, only `node:crypto` and the global `fetch`, so
 * `import { PushClient } from 'ssepush'` stays light. Same API as the PHP and Python clients.
 */
import { createHmac, randomBytes } from 'node:crypto';

export {
  DEFAULT_TOLERANCE_SECONDS,
  verifyWebhook,
  type WebhookEvent,
  WebhookVerifyError,
} from './webhook.js';

/** A uid or group name; a non-negative integer means its decimal string. */
export type Name = string | number;

/** Options for {@link PushClient}. Give `secret` (and optionally `publisherSecret`) or `token`. */
export interface PushClientOptions {
  /** The server's `JWT_SECRET`: signs publisher tokens (unless `publisherSecret`) and subscriber tokens. */
  secret?: string;
  /** The server's `PUBLISHER_JWT_SECRET`, when it has a separate publisher key. */
  publisherSecret?: string;
  /**
   * A ready publisher token, used as is for every call instead of signing one (scope `push`;
   * `push control` for the control calls too). Tokens the client signs carry scope `push`;
   * `disconnect`, `joinGroup`, `leaveGroup` and `groups` sign a separate `control` one.
   */
  token?: string;
  /** `JWT_ISSUER` of the server, put into minted tokens as `iss`. Default: none. */
  issuer?: string;
  /** `JWT_AUDIENCE` of the server, put into minted tokens as `aud`. Default: none. */
  audience?: string;
  /** Milliseconds a request may take in total, connecting included. Default 5000. */
  timeoutMs?: number;
  /** Lifetime in seconds of the publisher tokens the client signs for itself. Default 300. */
  publisherTtlSec?: number;
  /** The fetch to use (tests, proxies). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Extra attempts of a push after a timeout, a lost connection or a 503. Default 0 (off). Each
   * push then carries a fresh `Idempotency-Key` that its retries reuse, so a retry whose first
   * attempt did arrive publishes nothing and answers the first answer (same id).
   */
  retries?: number;
  /** Milliseconds before the first retry, doubled each time, at most 2000. Default 200. */
  retryDelayMs?: number;
}

/** One message of a push or batch: `to` and/or `group`; neither means everyone. */
export interface PushMessage {
  to?: Name | Name[];
  group?: Name | Name[];
  /** Event name, 1–64 of `[A-Za-z0-9_.:-]`; default `message`. */
  event?: string;
  /** Uids whose connections do not get it (live or on replay); `delivered` does not count them. */
  exclude?: Name | Name[];
  /** Any JSON value. */
  data: unknown;
}

/** The server's answer to one pushed message. */
export interface PushResult {
  /** The event id the message got (opaque). */
  id: string;
  /** Whether any addressed uid or group (anyone, for a broadcast) had a live connection. */
  online: boolean;
  /** How many connections it was handed to. */
  delivered: number;
}

/** Online uids and their connections (streams and waiting polls). */
export interface Counts {
  uids: number;
  connections: number;
}

/** The server's answer to `GET /online`. */
export interface OnlineResult extends Counts {
  /** Connections per asked uid (0 when offline); only when uids were asked. */
  online?: Record<string, number>;
  /** Counts per asked group; only when groups were asked. */
  groups?: Record<string, Counts>;
}

/** What a kicked page is told, and whether its older tokens stop working. */
export interface DisconnectOptions {
  /** At most 128 characters; server default `disconnected`. */
  reason?: string;
  /** Whether the page should reconnect; server default true. */
  reconnect?: boolean;
  /** Refuse the uids' subscriber tokens issued before this call. Default false. */
  revoke?: boolean;
}

/** A publisher token's scope: `push` for pushes and presence, `control` for kicks and groups. */
export type Scope = 'push' | 'control';

/**
 * A failed call. `status` is the HTTP status (0 when no answer came: connection refused,
 * timeout, DNS) and `code` the server's `error` code (`token_expired`, `bad_request`, …) or
 * `connection_failed` / `timeout` / `bad_response` for failures on the client side.
 */
export class PushError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`ssepush: ${message}`);
    this.name = 'PushError';
  }
}

const DEFAULT_TIMEOUT_MS = 5000;
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Publishes to an ssepush server from a Node backend. */
export class PushClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly cached = new Map<Scope, { token: string; renewAt: number }>();

  constructor(
    baseUrl: string,
    private readonly options: PushClientOptions,
  ) {
    if (!/^https?:\/\//i.test(baseUrl))
      throw new TypeError('ssepush: baseUrl must start with http:// or https://');
    if (!options.secret && !options.publisherSecret && !options.token) {
      throw new TypeError('ssepush: give "secret" (the server\'s JWT_SECRET) or a publisher "token"');
    }
    this.base = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** Pushes `data` to one uid or several (every connection of each), minus `exclude`. */
  push(to: Name | Name[], data: unknown, event = 'message', exclude?: Name | Name[]): Promise<PushResult> {
    return this.send({ to, data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /** Pushes `data` to everyone whose groups name the group (or any of the groups), minus `exclude`. */
  pushToGroup(
    group: Name | Name[],
    data: unknown,
    event = 'message',
    exclude?: Name | Name[],
  ): Promise<PushResult> {
    return this.send({ group, data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /** Pushes `data` to every connection, minus `exclude`. */
  broadcast(data: unknown, event = 'message', exclude?: Name | Name[]): Promise<PushResult> {
    return this.send({ data, event, ...(exclude !== undefined ? { exclude } : {}) });
  }

  /**
   * Pushes one message with any mix of `to` and `group`. `idempotencyKey` (1-128 of
   * `[A-Za-z0-9._:-]`, e.g. `order-1001-paid`) makes it safe to repeat: the server publishes it
   * once and answers every repeat alike.
   */
  async send(message: PushMessage, idempotencyKey?: string): Promise<PushResult> {
    const body = await this.pushBody(message, idempotencyKey);
    if (!isPushResult(body)) throw new PushError(200, 'bad_response', 'unexpected answer to POST /push');
    return body;
  }

  /** Publishes 1–1000 messages in one request; all or none (one bad item fails the whole batch). */
  async batch(messages: PushMessage[], idempotencyKey?: string): Promise<PushResult[]> {
    const body = await this.pushBody(messages, idempotencyKey);
    if (!Array.isArray(body) || !body.every(isPushResult)) {
      throw new PushError(200, 'bad_response', 'unexpected answer to a batch POST /push');
    }
    return body;
  }

  /** Totals of uids and connections online, plus connections per uid for the uids asked. */
  online(uids: Name[] = []): Promise<OnlineResult> {
    return this.counted(
      'GET',
      withQuery(
        '/online',
        uids.map((u) => ['uid', u]),
      ),
    );
  }

  /** Connections of one uid (0 when offline). */
  async connectionsOf(uid: Name): Promise<number> {
    const r = await this.online([uid]);
    return r.online?.[String(uid)] ?? 0;
  }

  /** Online uids and connections per group: `{ room: { uids: 3, connections: 5 } }`. */
  async groupCounts(groups: Name[]): Promise<Record<string, Counts>> {
    if (groups.length === 0) return {};
    const r = await this.counted(
      'GET',
      withQuery(
        '/online',
        groups.map((g) => ['group', g]),
      ),
    );
    if (!isRecord(r.groups))
      throw new PushError(200, 'bad_response', 'unexpected answer to GET /online?group=');
    return r.groups;
  }

  /**
   * Every online uid (or every online member of `group`), fetched `pageSize` (1–1000) at a time
   * as the loop asks for more; a walk names no uid twice.
   */
  async *onlineUids(group?: Name, pageSize = 1000): AsyncGenerator<string, void, undefined> {
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new RangeError('ssepush: pageSize must be 1-1000');
    }
    let cursor: string | null = null;
    do {
      const q: [string, Name][] = [['limit', pageSize]];
      if (group !== undefined) q.push(['group', group]);
      if (cursor !== null) q.push(['cursor', cursor]);
      const page = await this.request('GET', withQuery('/online/uids', q));
      if (!isRecord(page) || !Array.isArray(page.uids) || !('cursor' in page)) {
        throw new PushError(200, 'bad_response', 'unexpected answer to GET /online/uids');
      }
      for (const uid of page.uids) yield String(uid);
      cursor = typeof page.cursor === 'string' ? page.cursor : null;
    } while (cursor !== null);
  }

  /**
   * Ends every stream and waiting poll of the uid(s) (up to 1000) on every node; pages get
   * `event: disconnect` with `{reason, reconnect}`. `revoke` also refuses their subscriber tokens
   * issued before the call (`401 token_revoked`). Answers how many were online.
   */
  disconnect(uid: Name | Name[], options: DisconnectOptions = {}): Promise<Counts> {
    return this.counted('POST', '/disconnect', { uid, ...options }, 'control');
  }

  /** Adds the uid(s) to the group(s) at run time: live connections, reconnects, every node. */
  joinGroup(uid: Name | Name[], groups: Name | Name[]): Promise<Counts> {
    return this.groups(uid, { join: groups });
  }

  /** Removes the uid(s) from the group(s) at run time, token groups included. */
  leaveGroup(uid: Name | Name[], groups: Name | Name[]): Promise<Counts> {
    return this.groups(uid, { leave: groups });
  }

  /** Joins and leaves in one `POST /groups`; a group may not be in both. */
  groups(uid: Name | Name[], change: { join?: Name | Name[]; leave?: Name | Name[] }): Promise<Counts> {
    if (change.join === undefined && change.leave === undefined) {
      throw new TypeError('ssepush: groups() needs join or leave');
    }
    return this.counted('POST', '/groups', { uid, ...change }, 'control');
  }

  private async counted(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    scope: Scope = 'push',
  ): Promise<OnlineResult> {
    const r = await this.request(method, path, body, undefined, scope);
    if (!isRecord(r) || typeof r.uids !== 'number' || typeof r.connections !== 'number') {
      throw new PushError(200, 'bad_response', `unexpected answer to ${method} ${path.split('?')[0]}`);
    }
    return r as unknown as OnlineResult;
  }

  /** A subscriber token for the page: `/events?token=…` or `ssepush.js`. Needs `secret`. */
  subscriberToken(uid: Name, groups: Name[] = [], ttlSec = 3600): string {
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

  /**
   * The `token` option, or one signed for `scope`, cached until shortly before it expires.
   * @internal public for the offline tests that read the scopes the client signs.
   */
  publisherToken(scope: Scope = 'push'): string {
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

  /** POST /push with the key given, or a fresh one when retries are on; retried with that key. */
  private async pushBody(body: unknown, key: string | undefined): Promise<unknown> {
    if (key !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(key)) {
      throw new TypeError('ssepush: an idempotency key is 1-128 of [A-Za-z0-9._:-]');
    }
    const retries = Math.max(0, this.options.retries ?? 0);
    const k = key ?? (retries > 0 ? randomBytes(16).toString('hex') : undefined);
    const delay = this.options.retryDelayMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request('POST', '/push', body, k);
      } catch (err) {
        const again = err instanceof PushError && (err.status === 0 || err.status === 503);
        if (!again || attempt >= retries) throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, delay * 2 ** attempt)));
    }
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotencyKey?: string,
    scope: Scope = 'push',
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.publisherToken(scope)}`,
      accept: 'application/json',
    };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PushError(
          0,
          'timeout',
          `${method} ${this.base}${path} took longer than ${this.timeoutMs} ms`,
        );
      }
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new PushError(0, 'connection_failed', `cannot reach ${this.base}${cause}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PushError(res.status, 'bad_response', `HTTP ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const code = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : 'http_error';
      const msg =
        isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : `HTTP ${res.status}`;
      throw new PushError(res.status, code, `${msg} (HTTP ${res.status} ${code})`);
    }
    return parsed;
  }
}

function isPushResult(v: unknown): v is PushResult {
  return (
    isRecord(v) &&
    typeof v.id === 'string' &&
    typeof v.online === 'boolean' &&
    typeof v.delivered === 'number'
  );
}

function withQuery(path: string, params: [string, Name][]): string {
  const q = new URLSearchParams(params.map(([k, v]): [string, string] => [k, String(v)]));
  return params.length > 0 ? `${path}?${q}` : path;
}
