/**
 * The values the Node client takes and answers, and its one error class: what a backend that
 * calls `PushClient` types against. No behaviour lives here.
 */

/** A uid or group name; a non-negative integer means its decimal string. */
export type Name = string | number;

/** Options for `PushClient`. Give `secret` (and optionally `publisherSecret`) or `token`. */
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

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
