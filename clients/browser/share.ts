/**
 * Cross-tab sharing: tabs of one uid elect a leader with a Web Lock; the leader holds the one
 * connection and relays everything over a BroadcastChannel. A tab that (re)joins first fetches
 * what it missed since its own last id with a non-waiting poll, so a follower's reload loses
 * nothing either. When the leader goes, the lock passes to the next tab, which resumes from
 * the last id it was relayed. The tab's client is seen only through `ShareHost`.
 */
import type {
  PushDisconnect,
  PushMessage,
  PushReset,
  PushRole,
  PushState,
  PushTransport,
} from '../../public/ssepush.js';
import { type AbortBox, type Api, disconnectOf, isPollBody } from './http.js';
import type { Tokens } from './tokens.js';

const STATES: readonly string[] = ['connecting', 'open', 'reconnecting', 'closed'];

/** What tabs say to each other on the channel. */
export type Relay =
  | { t: 'hello'; names: string[] }
  | { t: 'leader'; names: string[] }
  | { t: 'listen'; names: string[] }
  | {
      t: 'sync';
      to: string;
      lastId: string | undefined;
      state: PushState;
      transport: PushTransport | null;
      names: string[];
    }
  | { t: 'msg'; m: PushMessage }
  | { t: 'reset'; r: PushReset }
  | { t: 'pos'; id: string }
  | { t: 'disconnect'; d: PushDisconnect }
  | { t: 'state'; state: PushState; transport: PushTransport | null };

type Envelope = Relay & { from?: string; to?: string; names?: unknown };

/** What the sharing needs of the tab's client. */
export interface ShareHost {
  readonly lastId: string | undefined;
  readonly state: PushState;
  readonly transport: PushTransport | null;
  /** Every event name some tab listens for. */
  readonly names: ReadonlySet<string>;
  setRole(role: PushRole): void;
  /** Another tab listens for `name`: the leader's connection must hear it too. */
  hear(name: string): void;
  message(m: PushMessage): void;
  reset(r: PushReset): void;
  setLastId(id: unknown): void;
  setState(state: PushState, transport: PushTransport | null): void;
  /** The backend ended the connection (`POST /disconnect`); closes the tab unless `reconnect`. */
  disconnected(d: PushDisconnect): void;
  /** This tab became the leader: open the connection. */
  lead(): void;
}

export class Share {
  private readonly id = Math.random().toString(36).slice(2);
  private leader = false;
  private closed = false;
  /**
   * With a last id to resume from, relays wait until we know whether we lead (and resume
   * through our own connection) or follow (and first catch up from that id).
   */
  private catching: Envelope[] | null;
  private readonly box: AbortBox = {};
  private release: (() => void) | null = null;
  private readonly ac = new globalThis.AbortController();
  private readonly ch: BroadcastChannel;

  constructor(
    private readonly host: ShareHost,
    private readonly api: Api,
    private readonly tokens: Tokens,
    name: string,
  ) {
    this.catching = host.lastId !== undefined ? [] : null;
    this.ch = new globalThis.BroadcastChannel(name);
    this.ch.onmessage = (ev) => this.receive(ev.data);
    const locks = globalThis.navigator.locks;
    locks
      .request(name, { ifAvailable: true }, (lock) => (lock ? this.lead() : null))
      .then(() => {
        if (this.leader || this.closed) return;
        this.follow();
        return locks.request(name, { signal: this.ac.signal }, () => this.lead());
      })
      .catch(() => {}); // AbortError after close()
  }

  /** Relays what the leader's connection delivers; followers relay nothing. */
  relay(msg: Relay): void {
    if (this.leader) this.post(msg);
  }

  /** A follower starts listening for more names: the leader's connection must hear them. */
  want(names: string[]): void {
    if (!this.leader) this.post({ t: 'listen', names });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ac.abort();
    if (this.box.abort) this.box.abort();
    if (this.release) this.release();
    this.ch.close();
  }

  private post(msg: Relay): void {
    if (this.closed) return;
    try {
      this.ch.postMessage({ ...msg, from: this.id });
    } catch {
      // a message that cannot be cloned is not relayed; the data came from JSON, so it can
    }
  }

  private follow(): void {
    this.host.setRole('follower');
    this.post({ t: 'hello', names: [...this.host.names] });
    if (this.host.lastId !== undefined) this.catchUp();
  }

  private lead(): Promise<void> | null {
    if (this.closed) return null;
    this.leader = true;
    this.host.setRole('leader');
    if (this.box.abort) this.box.abort();
    this.flush();
    this.post({ t: 'leader', names: [...this.host.names] });
    this.host.lead();
    return new Promise((resolve) => {
      this.release = resolve;
    });
  }

  /** A follower's own catch-up from its last id; live relays wait in `catching` meanwhile. */
  private async catchUp(): Promise<void> {
    this.catching = this.catching || [];
    let refreshed = false;
    try {
      for (let i = 0; i < 100 && !this.leader && !this.closed; i++) {
        await this.tokens.now();
        const r = await this.api.get('/poll', { cursor: this.host.lastId, timeout: 0 }, 15000, this.box);
        if (this.leader || this.closed) break;
        if (r.status === 401 && !refreshed) {
          refreshed = true;
          await this.tokens.refresh();
          continue;
        }
        if (r.status !== 200 || !isPollBody(r.body)) break;
        if (r.body.reset) this.host.reset({ id: r.body.cursor, reason: 'history_lost' });
        for (const m of r.body.messages)
          this.host.message({ id: m.id, event: m.event, data: m.data, time: m.time });
        this.host.setLastId(r.body.cursor);
        if (r.body.reset || r.body.messages.length === 0) break;
      }
    } catch {
      // the relay goes on; a later leader change resumes from whatever we reached
    }
    this.flush();
  }

  /** Applies relays that arrived during catch-up; duplicates are dropped by id. */
  private flush(): void {
    const queued = this.catching;
    this.catching = null;
    if (!queued || this.leader) return;
    for (const msg of queued) this.apply(msg);
  }

  private receive(msg: Envelope | null | undefined): void {
    if (this.closed || !msg || msg.from === this.id) return;
    if (Array.isArray(msg.names)) for (const n of msg.names) this.host.hear(n);
    // Before the leader check: a follower that took the lock while the old leader was closing
    // for good must close too.
    if (msg.t === 'disconnect') {
      if (msg.d && (!this.leader || !msg.d.reconnect)) this.host.disconnected(disconnectOf(msg.d));
      return;
    }
    if (this.leader) {
      if (msg.t === 'hello') {
        this.post({
          t: 'sync',
          to: msg.from ?? '',
          lastId: this.host.lastId,
          state: this.host.state,
          transport: this.host.transport,
          names: [...this.host.names],
        });
      }
      return;
    }
    if (msg.t === 'leader') {
      this.post({ t: 'listen', names: [...this.host.names] });
      return;
    }
    if (msg.t === 'sync' && msg.to === this.id) {
      if (this.host.lastId === undefined && typeof msg.lastId === 'string') this.host.setLastId(msg.lastId);
      this.host.setState(msg.state, msg.transport);
      return;
    }
    if (this.catching) {
      if (msg.t === 'msg' || msg.t === 'reset') this.catching.push(msg);
      else if (msg.t === 'state') this.apply(msg);
      return;
    }
    this.apply(msg);
  }

  private apply(msg: Envelope): void {
    if (msg.t === 'msg') this.host.message(msg.m);
    else if (msg.t === 'reset') this.host.reset(msg.r);
    else if (msg.t === 'pos' && typeof msg.id === 'string') this.host.setLastId(msg.id);
    else if (msg.t === 'state' && STATES.indexOf(msg.state) >= 0)
      this.host.setState(msg.state, msg.transport);
  }
}
