/**
 * Types of `ssepush.js`, the browser client of ssepush. As a classic script it defines the global
 * `SsePush`; as an ES module (`ssepush.mjs`) it exports the same `connect` and `version`.
 */

/** One message as the server sent it, its data already `JSON.parse`d. */
export interface PushMessage<T = unknown> {
  /** Server-assigned event id: opaque, totally ordered, never parse it. */
  readonly id: string;
  /** Event name (`message` unless the publisher named one). */
  readonly event: string;
  /** The published JSON data, parsed. */
  readonly data: T;
  /** Milliseconds since the Unix epoch when published; only the long-poll transport carries it. */
  readonly time?: number;
}

/** History could not be replayed (server restart, messages evicted): reload your app state. */
export interface PushReset {
  /** The new position; the client continues live from here. */
  readonly id: string;
  /** Why replay was impossible, e.g. `epoch_changed`, `history_lost`, `bad_id`. */
  readonly reason: string;
}

/**
 * The backend ended this uid's connections (`POST /disconnect`): the stream's `event: disconnect`
 * or the long-poll answer's `disconnect`.
 */
export interface PushDisconnect {
  /** Why, as the backend said (default `disconnected`). */
  readonly reason: string;
  /**
   * `true`: the client reconnects with its usual backoff (asking `getToken()` first when the
   * server refuses the old token with `token_revoked`). `false`: the client stops (state
   * `closed`) and stays stopped until the page calls `connect()` again.
   */
  readonly reconnect: boolean;
}

/** `connecting` before the first connection, `reconnecting` after losing one, `closed` for good. */
export type PushState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type PushTransport = 'sse' | 'poll';
/** `solo`: this tab holds its own connection; `leader`: it holds the one shared by tabs; `follower`: another tab does. */
export type PushRole = 'solo' | 'leader' | 'follower';

export interface StateInfo {
  readonly transport: PushTransport | null;
  readonly role: PushRole;
  /** The failure that caused `reconnecting` or `closed`, when there was one. */
  readonly error?: Error;
  /** With state `closed` (or `reconnecting`) after `POST /disconnect`: the backend's reason. */
  readonly disconnect?: PushDisconnect;
}

export interface ConnectOptions {
  /** Base URL of the ssepush server, e.g. `https://push.example.com`. Default `''`: this page's origin. */
  url?: string;
  /** A subscriber token. Without `token` and `getToken` the `ssepush_token` cookie is used. */
  token?: string;
  /**
   * Returns a fresh subscriber token; called at start when `token` is absent, and whenever the
   * server refuses the token (401) or the stream ends at the token's expiry.
   */
  getToken?: () => string | Promise<string>;
  /** `auto` (default): SSE, switching to long-poll when EventSource is missing or streams keep failing. */
  transport?: 'auto' | 'sse' | 'poll';
  /**
   * Event names to listen for besides `message` and the names given to `on()`. EventSource only
   * dispatches events whose name has a listener, so the client hears exactly these names, on
   * every transport. Default `[]`.
   */
  events?: string[];
  /** Every message the client listens for, in id order, once. */
  onMessage?: (message: PushMessage) => void;
  /** Replay was impossible; the client goes on live from `reset.id`. */
  onReset?: (reset: PushReset) => void;
  onStateChange?: (state: PushState, info: StateInfo) => void;
  /**
   * The backend ended the connection (`POST /disconnect`), in every tab sharing it. With
   * `reconnect: false` the client then turns `closed` (no retry; call `connect()` again to start
   * over); with `reconnect: true` it reconnects by itself.
   */
  onDisconnect?: (info: PushDisconnect) => void;
  /** The client stopped for good: the server refused the token (401) and there is no `getToken`. Other failures are retried with backoff and reported through `onStateChange`. */
  onError?: (error: Error) => void;
  /**
   * Share one server connection between all tabs of this browser for the same uid (Web Locks +
   * BroadcastChannel; one connection per tab where those are missing). Default `true`.
   */
  shareAcrossTabs?: boolean;
  /** Key for the stored last id and the tab sharing; default: the token's `sub`. */
  uid?: string;
  /** Send cookies on cross-origin requests (cookie authentication). Default `false`. */
  withCredentials?: boolean;
  /** Seconds a long-poll waits on the server (at most 60). Default 25. */
  pollTimeout?: number;
  /** Milliseconds before the first retry (randomised between half and all of it). Default 1000. */
  minRetryDelay?: number;
  /** Ceiling of the exponential retry delay in milliseconds. Default 30000. */
  maxRetryDelay?: number;
  /**
   * Consecutive failed streams (while plain requests work) before `auto` switches to long-poll,
   * for the rest of the tab's session. Default 2.
   */
  sseFailuresBeforePoll?: number;
  /** Milliseconds a stream may take to open before it counts as failed. Default 10000. */
  openTimeout?: number;
  /** Milliseconds a stream must stay open to count as healthy (resets the failure counts). Default 10000. */
  stableAfter?: number;
}

export interface PushClient {
  /** Calls `handler(data, message)` for each message named `event`; `'reset'` gets resets, `'disconnect'` disconnects. */
  on<T = unknown>(event: string, handler: (data: T, message: PushMessage<T>) => void): PushClient;
  on(event: 'reset', handler: (reset: PushReset) => void): PushClient;
  /** `'disconnect'` handlers get what `onDisconnect` gets; no message is ever named `disconnect`. */
  on(event: 'disconnect', handler: (info: PushDisconnect) => void): PushClient;
  /** Removes one handler, or every handler of `event` when none is given. */
  off(event: string, handler?: (...args: never[]) => void): PushClient;
  /** Closes the connection (another tab takes over when this one led). Idempotent. */
  close(): void;
  readonly state: PushState;
  readonly transport: PushTransport | null;
  readonly role: PushRole;
  /** Id of the last message delivered (or the last known position). */
  readonly lastEventId: string | undefined;
}

/** Connects and keeps connected until `close()`. */
export function connect(options: ConnectOptions): PushClient;
export const version: string;

export as namespace SsePush;
