/**
 * One network link to the server, run by the tab that holds the connection (the only tab, or
 * the leader). Reconnects on its own with exponential backoff and jitter, refreshes the token
 * on 401, and falls back from SSE to long-poll when streams keep failing. Each attempt is one
 * `Transport`; the link sees the client only through `LinkHost`.
 */
import type { PushDisconnect, PushState, PushTransport } from '../../public/ssepush.js';
import { type AbortBox, type Api, HttpError, isPollBody } from './http.js';
import { PollTransport } from './poll.js';
import type { Store } from './session.js';
import { SseTransport } from './sse.js';
import { AuthError, type Tokens } from './tokens.js';
import { backoff, type Delivery, type Transport, type TransportEvents } from './transport.js';

export interface LinkOptions {
  transport: 'auto' | 'sse' | 'poll';
  withCredentials: boolean;
  pollTimeout: number;
  minRetryDelay: number;
  maxRetryDelay: number;
  sseFailuresBeforePoll: number;
  openTimeout: number;
  stableAfter: number;
}

/** What the link reports to, and reads from, the client. */
export interface LinkHost extends Delivery {
  readonly state: PushState;
  setState(state: PushState, transport: PushTransport | null, error?: unknown): void;
  /** A failure no retry can fix. */
  fatal(err: unknown): void;
  /** The backend ended the connection (`POST /disconnect`); closes the client unless `reconnect`. */
  disconnected(d: PushDisconnect): void;
}

const g = globalThis;

export class Link {
  private closed = false;
  private transport: PushTransport;
  private current: Transport | null = null;
  private readonly box: AbortBox = {};
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private sseFailures = 0;
  /** The last stream died young: before trusting the next one, check plain requests work. */
  private suspect = false;
  /** The backend ended the last stream: probe before the next one (its token may be revoked). */
  private verify = false;
  private everOpen: boolean;
  private openedAt = 0;
  private readonly onOnline = () => {
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.attempt();
    }
  };
  // A page restored from the back/forward cache may hold a stream the browser closed.
  private readonly onPageShow = (ev: PageTransitionEvent) => {
    if (ev.persisted && this.current) this.current.revive();
  };

  constructor(
    private readonly host: LinkHost,
    private readonly api: Api,
    private readonly tokens: Tokens,
    private readonly store: Store,
    private readonly o: LinkOptions,
  ) {
    // In `auto`, a tab whose streams already failed this session starts with long-poll.
    this.transport =
      o.transport === 'poll' ||
      (o.transport === 'auto' && (typeof g.EventSource !== 'function' || store.load('transport') === 'poll'))
        ? 'poll'
        : 'sse';
    // A tab taking over from a leader whose connection was open is reconnecting, not connecting.
    this.everOpen = host.state !== 'connecting';
    if (typeof g.addEventListener === 'function') {
      g.addEventListener('online', this.onOnline);
      g.addEventListener('pageshow', this.onPageShow);
    }
  }

  start(): void {
    this.attempt();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (typeof g.removeEventListener === 'function') {
      g.removeEventListener('online', this.onOnline);
      g.removeEventListener('pageshow', this.onPageShow);
    }
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    if (this.current) this.current.close();
    if (this.box.abort) this.box.abort();
  }

  /** Starts listening for another event name on the open stream (long-poll hears every name). */
  listen(name: string): void {
    if (this.current) this.current.listen(name);
  }

  /** One connection attempt: the first, and each one after a failure's backoff. */
  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    this.host.setState(this.everOpen ? 'reconnecting' : 'connecting', this.transport);
    try {
      await this.tokens.now();
      if (this.tokens.expired()) {
        await this.tokens.refresh();
        this.suspect = false; // the stream ended because the token expired, not because of the network
      }
      if (this.transport === 'sse' && (this.suspect || this.verify || this.host.lastId === undefined))
        await this.probe();
      if (this.closed) return;
      this.current = this.transport === 'poll' ? this.poll() : this.sse();
      this.current.start();
    } catch (err) {
      this.fail(err);
    }
  }

  /** The events a transport reports: the client's delivery, plus open and failure for the link. */
  private events(kind: PushTransport): TransportEvents {
    const host = this.host;
    return {
      get lastId() {
        return host.lastId;
      },
      names: host.names,
      message: (m) => host.message(m),
      reset: (r) => host.reset(r),
      position: (id) => host.position(id),
      opened: () => this.opened(kind),
      failed: (err) => this.failed(kind, err),
      disconnected: (d) => this.disconnected(d),
    };
  }

  private sse(): Transport {
    return new SseTransport(this.api, this.o, this.events('sse'));
  }

  private poll(): Transport {
    return new PollTransport(this.api, this.tokens, this.o, this.events('poll'));
  }

  /**
   * `GET /poll` without a cursor answers at once: the current position (so a fresh stream
   * resumes from the moment we connected, which EventSource would not tell us), or 401 (the
   * token, not the network, is the problem). After a stream failed while this answered 200,
   * the stream itself is suspect: several in a row switch `auto` to long-poll.
   */
  private async probe(): Promise<void> {
    for (let i = 0; ; i++) {
      const r = await this.api.get('/poll', {}, 10000, this.box);
      if (this.closed) return;
      if (r.status === 401) {
        if (i > 0) throw new HttpError(401, 'GET /poll with a fresh token'); // retried with backoff
        await this.tokens.refresh();
        this.suspect = false; // the token, not the stream, was the problem
        continue;
      }
      if (r.status !== 200 || !isPollBody(r.body)) throw new HttpError(r.status, 'GET /poll');
      this.verify = false;
      if (this.host.lastId === undefined) this.host.position(r.body.cursor);
      if (this.suspect) {
        this.suspect = false;
        this.sseFailures++;
        if (this.o.transport === 'auto' && this.sseFailures >= this.o.sseFailuresBeforePoll) {
          this.transport = 'poll'; // streams keep failing where plain requests work: a buffering proxy
          this.store.save('transport', 'poll');
        }
      }
      return;
    }
  }

  private opened(kind: PushTransport): void {
    this.everOpen = true;
    if (kind === 'poll') {
      this.failures = 0;
      this.host.setState('open', 'poll');
      return;
    }
    this.openedAt = Date.now();
    this.host.setState('open', kind);
    clearTimeout(this.stableTimer);
    // Failures are forgiven only after `stableAfter`: a stream that delivers a message and dies,
    // over and over, still backs off.
    this.stableTimer = setTimeout(() => {
      this.failures = 0;
      this.sseFailures = 0;
    }, this.o.stableAfter);
  }

  private failed(kind: PushTransport, err: unknown): void {
    if (this.closed) return;
    if (kind === 'sse') {
      const lived = this.openedAt ? Date.now() - this.openedAt : 0;
      clearTimeout(this.stableTimer);
      this.openedAt = 0;
      if (lived < this.o.stableAfter) this.suspect = true;
    }
    this.fail(err);
  }

  /**
   * The backend ended the connection. Not a network failure (no switch to long-poll), but the
   * retry still backs off: a backend kicking in a loop must not turn into a request loop. A
   * revoked token is refused with 401 on the next probe or poll, which asks `getToken()`.
   */
  private disconnected(d: PushDisconnect): void {
    if (this.closed) return;
    if (this.current) this.current.close();
    this.current = null;
    clearTimeout(this.stableTimer);
    this.openedAt = 0;
    this.host.disconnected(d); // closes this link when the client must not reconnect
    if (this.closed) return;
    this.verify = true;
    this.failures++;
    this.retryTimer = setTimeout(() => this.attempt(), this.delay(this.failures));
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    if (err instanceof AuthError) {
      this.host.fatal(err);
      return;
    }
    this.failures++;
    this.host.setState(this.everOpen ? 'reconnecting' : 'connecting', this.transport, err);
    this.retryTimer = setTimeout(() => this.attempt(), this.delay(this.failures));
  }

  private delay(n: number): number {
    return backoff(n, this.o.minRetryDelay, this.o.maxRetryDelay);
  }
}
