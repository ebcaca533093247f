/**
 * Requests to the server: one `GET` that answers parsed JSON (`fetch`, or XMLHttpRequest where
 * fetch is missing), URLs with the token added, and the shape of a `GET /poll` answer. Used by
 * the long-poll transport, the stream probe, and a follower tab's catch-up.
 */
import type { PushDisconnect } from '../../public/ssepush.js';
import type { Tokens } from './tokens.js';

const g = globalThis;

export class HttpError extends Error {
  readonly status: number;

  constructor(status: number, what: string) {
    super(`ssepush: ${what} answered ${status}`);
    this.name = 'SsePushHttpError';
    this.status = status;
  }
}

/** A message as `GET /poll` lists it. */
export interface PolledMessage {
  id: string;
  event: string;
  data: unknown;
  time?: number;
}

export interface PollBody {
  cursor: string;
  messages: PolledMessage[];
  reset?: boolean;
  /** The backend ended this uid's connections (`POST /disconnect`). */
  disconnect?: unknown;
}

export interface Reply {
  status: number;
  body: unknown;
}

/** Query parameters; `undefined` values are left out. */
export type Params = Record<string, string | number | undefined>;

/** Holds the cancel function of the request in flight, so its owner can abort it. */
export interface AbortBox {
  abort?: () => void;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isPollBody(b: unknown): b is PollBody {
  const body = b as Partial<PollBody> | null | undefined;
  return !!body && typeof body.cursor === 'string' && Array.isArray(body.messages);
}

/** The `{reason, reconnect}` of a disconnect, from a stream event's data or a poll answer. */
export function disconnectOf(d: unknown): PushDisconnect {
  const o = (d && typeof d === 'object' ? d : {}) as { reason?: unknown; reconnect?: unknown };
  return {
    reason: typeof o.reason === 'string' && o.reason ? o.reason : 'disconnected',
    reconnect: o.reconnect === true,
  };
}

export function withQuery(base: string, path: string, params: Params): string {
  const q: string[] = [];
  for (const k of Object.keys(params)) {
    const v = params[k];
    if (v !== undefined) q.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return `${base}${path}${q.length ? `?${q.join('&')}` : ''}`;
}

/**
 * GET `url` and parse JSON: `fetch` where available, XMLHttpRequest otherwise. `box.abort` is
 * set so the caller can cancel; the request is abandoned after `timeoutMs`.
 */
function httpGet(url: string, timeoutMs: number, withCredentials: boolean, box: AbortBox): Promise<Reply> {
  if (typeof g.fetch === 'function' && typeof g.AbortController === 'function') {
    const ac = new g.AbortController();
    box.abort = () => ac.abort();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    return g
      .fetch(url, {
        signal: ac.signal,
        cache: 'no-store',
        credentials: withCredentials ? 'include' : 'same-origin',
      })
      .then((res) => res.text().then((text) => ({ status: res.status, body: parseJson(text) })))
      .finally(() => clearTimeout(timer));
  }
  return new Promise((resolve, reject) => {
    const xhr = new g.XMLHttpRequest();
    box.abort = () => xhr.abort();
    xhr.open('GET', url, true);
    xhr.timeout = timeoutMs;
    xhr.withCredentials = !!withCredentials;
    xhr.onload = () => resolve({ status: xhr.status, body: parseJson(xhr.responseText) });
    xhr.onerror = () => reject(new Error('ssepush: network error'));
    xhr.ontimeout = () => reject(new Error('ssepush: request timed out'));
    xhr.onabort = () => reject(new Error('ssepush: request aborted'));
    xhr.send();
  });
}

/** The server as the client sees it: its base URL, and the current token added to every request. */
export class Api {
  constructor(
    readonly base: string,
    readonly withCredentials: boolean,
    private readonly tokens: Tokens,
  ) {}

  /** `base + path + ?params`, with the current token last. */
  url(path: string, params: Params): string {
    const token = this.tokens.token;
    return withQuery(this.base, path, token ? { ...params, token } : params);
  }

  get(path: string, params: Params, timeoutMs: number, box: AbortBox): Promise<Reply> {
    return httpGet(this.url(path, params), timeoutMs, this.withCredentials, box);
  }
}
