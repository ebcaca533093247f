/**
 * The client behind the handle `connect()` returns: options, handlers, de-duplication by id,
 * the state machine, and the stored last id. It owns either a `Link` (it holds the connection)
 * or a `Share` (tabs share one, and the share tells it when to open a `Link`), and serves both
 * through their narrow host interfaces.
 */
import type {
  ConnectOptions,
  PushDisconnect,
  PushMessage,
  PushReset,
  PushRole,
  PushState,
  PushTransport,
} from '../../public/ssepush.js';
import { Api } from './http.js';
import { Link, type LinkHost, type LinkOptions } from './link.js';
import { SessionStore } from './session.js';
import { Share, type ShareHost } from './share.js';
import { claimsOf, Tokens } from './tokens.js';
import { backoff, sleep } from './transport.js';

/** Defaults of every option; the `.d.ts` documents them. */
const DEFAULTS = {
  url: '',
  transport: 'auto',
  shareAcrossTabs: true,
  events: [],
  withCredentials: false,
  pollTimeout: 25,
  minRetryDelay: 1000,
  maxRetryDelay: 30000,
  sseFailuresBeforePoll: 2,
  openTimeout: 10000,
  stableAfter: 10000,
} as const;

type Options = ConnectOptions & LinkOptions & { url: string; shareAcrossTabs: boolean; events: string[] };

/** Ids kept for de-duplication: enough to cover any overlap of replay, relay and catch-up. */
const SEEN_MAX = 2000;

type Handler = (...args: never[]) => void;

const g = globalThis;

/** Calls an app handler; one that throws must not break delivery to the next handler or tab. */
function call<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
  if (typeof fn !== 'function') return;
  try {
    fn(...args);
  } catch (err) {
    setTimeout(() => {
      throw err;
    }, 0);
  }
}

export class Client implements LinkHost, ShareHost {
  readonly options: Options;
  state: PushState = 'connecting';
  transport: PushTransport | null = null;
  role: PushRole = 'solo';
  lastId: string | undefined = undefined;
  private closed = false;
  private readonly tokens: Tokens;
  private readonly api: Api;
  private store: SessionStore | null = null;
  private link: Link | null = null;
  private share: Share | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  /** Names this tab listens for. */
  private readonly own = new Set(['message']);
  /** Names any tab listens for: what the connection must hear. */
  readonly names = new Set(['message']);
  private readonly seen = new Set<string>();

  constructor(options: ConnectOptions) {
    const o = Object.assign({}, DEFAULTS, options) as Options;
    if (['auto', 'sse', 'poll'].indexOf(o.transport) < 0) {
      throw new TypeError(`ssepush: transport must be 'auto', 'sse' or 'poll', not ${o.transport}`);
    }
    if (o.transport === 'sse' && typeof g.EventSource !== 'function') {
      throw new TypeError("ssepush: transport 'sse' needs EventSource, which this browser lacks");
    }
    this.options = o;
    this.tokens = new Tokens(o.token, o.getToken);
    this.api = new Api(String(o.url || '').replace(/\/+$/, ''), o.withCredentials, this.tokens);
    for (const n of o.events || []) this.addName(n, true);
    this.start().catch((err) => this.fatal(err));
  }

  private async start(): Promise<void> {
    // A token endpoint that fails at page load is retried with backoff, not given up on.
    for (let n = 1; !this.closed; n++) {
      try {
        await this.tokens.now();
        break;
      } catch (err) {
        this.setState('connecting', null, err);
        await sleep(backoff(n, this.options.minRetryDelay, this.options.maxRetryDelay));
      }
    }
    if (this.closed) return;
    const token = this.tokens.token;
    const claims = token ? claimsOf(token) : {};
    const uid = this.options.uid !== undefined ? this.options.uid : claims.sub;
    const groups = Array.isArray(claims.groups) ? claims.groups.map(String).sort().join(',') : '';
    const scope = `ssepush:${this.api.base || g.location?.origin || ''}:${uid === undefined ? '' : uid}`;
    this.store = new SessionStore(scope);
    const saved = this.store.load('last');
    if (saved) this.lastId = saved;
    const canShare =
      this.options.shareAcrossTabs !== false &&
      typeof g.BroadcastChannel === 'function' &&
      typeof g.AbortController === 'function' &&
      g.navigator?.locks &&
      typeof g.navigator.locks.request === 'function';
    if (canShare) this.share = new Share(this, this.api, this.tokens, `${scope}:${groups}`);
    else this.lead();
  }

  /** Opens this tab's connection: at once when alone, when elected leader when sharing. */
  lead(): void {
    if (this.closed || this.link || !this.store) return;
    this.link = new Link(this, this.api, this.tokens, this.store, this.options);
    this.link.start();
  }

  setRole(role: PushRole): void {
    this.role = role;
  }

  hear(name: string): void {
    this.addName(name, false);
  }

  private addName(name: unknown, own: boolean): void {
    if (typeof name !== 'string' || name === '' || name === 'reset' || name === 'disconnect') return;
    if (own && !this.own.has(name)) {
      this.own.add(name);
      if (this.share) this.share.want([name]);
    }
    if (!this.names.has(name)) {
      this.names.add(name);
      if (this.link) this.link.listen(name);
    }
  }

  setLastId(id: unknown): void {
    if (typeof id !== 'string' || id === '') return;
    this.lastId = id;
    if (this.store) this.store.save('last', id);
  }

  /** A position without a message (fresh start, empty poll): later resumes start here. */
  position(id: string): void {
    if (id === this.lastId) return;
    this.setLastId(id);
    if (this.share) this.share.relay({ t: 'pos', id });
  }

  message(m: PushMessage): void {
    if (this.closed || !m || typeof m.id !== 'string' || this.seen.has(m.id)) return;
    this.seen.add(m.id);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value as string);
    this.setLastId(m.id);
    if (this.share) this.share.relay({ t: 'msg', m });
    if (!this.own.has(m.event)) return;
    call(this.options.onMessage, m);
    const hs = this.handlers.get(m.event);
    if (hs) for (const h of [...hs]) call(h as (data: unknown, m: PushMessage) => void, m.data, m);
  }

  reset(r: PushReset): void {
    if (this.closed || !r) return;
    this.setLastId(r.id);
    if (this.share) this.share.relay({ t: 'reset', r });
    call(this.options.onReset, r);
    const hs = this.handlers.get('reset');
    if (hs) for (const h of [...hs]) call(h as (r: PushReset, same: PushReset) => void, r, r);
  }

  /**
   * The backend ended the connection (`POST /disconnect`): here from this tab's link, or relayed
   * by the leader. Every tab is told; with `reconnect: false` every tab closes for good.
   */
  disconnected(d: PushDisconnect): void {
    if (this.closed) return;
    if (this.link && this.share) this.share.relay({ t: 'disconnect', d });
    call(this.options.onDisconnect, d);
    const hs = this.handlers.get('disconnect');
    if (hs) for (const h of [...hs]) call(h as (d: PushDisconnect) => void, d);
    if (d.reconnect) {
      if (this.link) this.setState('reconnecting', this.transport, undefined, d);
      return;
    }
    this.setState('closed', this.transport, undefined, d);
    this.close();
  }

  setState(
    state: PushState,
    transport: PushTransport | null,
    error?: unknown,
    disconnect?: PushDisconnect,
  ): void {
    if (this.closed && state !== 'closed') return;
    const changed = state !== this.state || (transport || null) !== this.transport;
    this.state = state;
    this.transport = transport || null;
    if (this.share) this.share.relay({ t: 'state', state, transport: this.transport });
    if (changed) {
      call(this.options.onStateChange, state, {
        transport: this.transport,
        role: this.role,
        error: (error as Error) || undefined,
        disconnect,
      });
    }
  }

  fatal(err: unknown): void {
    if (this.closed) return;
    call(this.options.onError, err as Error);
    this.setState('closed', this.transport, err);
    this.close();
  }

  on(event: string, handler: Handler): void {
    if (typeof handler !== 'function') throw new TypeError('ssepush: on() needs a handler function');
    let hs = this.handlers.get(event);
    if (!hs) {
      hs = new Set();
      this.handlers.set(event, hs);
    }
    hs.add(handler);
    this.addName(event, true);
  }

  off(event: string, handler?: Handler): void {
    const hs = this.handlers.get(event);
    if (!hs) return;
    if (handler) hs.delete(handler);
    else hs.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.link) this.link.close();
    if (this.share) this.share.close();
    if (this.state !== 'closed') {
      this.state = 'closed';
      call(this.options.onStateChange, 'closed', { transport: this.transport, role: this.role });
    }
  }
}
