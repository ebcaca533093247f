/*!
 * ssepush.js 0.1.0: browser client for the ssepush push server (API: docs/client.md). MIT licence.
 *
 * Usable as a classic script (`<script src="/ssepush.js">` defines `SsePush`) and as an ES module
 * through `ssepush.mjs`. No build step, no dependencies.
 *
 * What it guarantees: every message the page listens for is delivered once and in order, across
 * reconnects, token refreshes, transport switches, leader-tab changes and page reloads (the last
 * id is kept per uid in sessionStorage), or the app is told through `onReset` that it must reload
 * its state.
 */
((root, factory) => {
  const api = factory(root);
  if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = api;
  if (root) root.SsePush = api;
})(typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : undefined, (g) => {
  const VERSION = '0.1.0';

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
  };

  /** Ids kept for de-duplication: enough to cover any overlap of replay, relay and catch-up. */
  const SEEN_MAX = 2000;

  const STATES = ['connecting', 'open', 'reconnecting', 'closed'];

  /** A 401 that no token refresh can fix: there is no `getToken`. Stops the client. */
  class AuthError extends Error {
    constructor(message) {
      super(message);
      this.name = 'SsePushAuthError';
      this.status = 401;
    }
  }

  class HttpError extends Error {
    constructor(status, what) {
      super(`ssepush: ${what} answered ${status}`);
      this.name = 'SsePushHttpError';
      this.status = status;
    }
  }

  function call(fn, ...args) {
    if (typeof fn !== 'function') return;
    try {
      fn(...args);
    } catch (err) {
      // An app handler that throws must not break delivery to the next handler or tab.
      setTimeout(() => {
        throw err;
      }, 0);
    }
  }

  /** The claims of a JWT, unverified: only used to key storage and to notice expiry early. */
  function claimsOf(token) {
    try {
      const part = String(token).split('.')[1];
      if (!part) return {};
      const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === 'object' ? claims : {};
    } catch {
      return {};
    }
  }

  function sessionStore() {
    try {
      return g.sessionStorage || null;
    } catch {
      return null; // storage disabled (privacy settings, sandboxed frame)
    }
  }

  function withQuery(base, path, params) {
    const q = [];
    for (const k of Object.keys(params)) {
      if (params[k] !== undefined) q.push(`${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`);
    }
    return `${base}${path}${q.length ? `?${q.join('&')}` : ''}`;
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /**
   * GET `url` and parse JSON: `fetch` where available, XMLHttpRequest otherwise. `box.abort` is
   * set so the caller can cancel; the request is abandoned after `timeoutMs`.
   */
  function httpGet(url, timeoutMs, withCredentials, box) {
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

  function isPollBody(b) {
    return !!b && typeof b.cursor === 'string' && Array.isArray(b.messages);
  }

  /**
   * One network link to the server, run by the tab that holds the connection (the only tab, or
   * the leader). Reconnects on its own with exponential backoff and jitter, refreshes the token
   * on 401, and falls back from SSE to long-poll when streams keep failing.
   */
  class Link {
    constructor(client) {
      this.c = client;
      this.o = client.options;
      this.closed = false;
      // In `auto`, a tab whose streams already failed this session starts with long-poll.
      this.transport =
        this.o.transport === 'poll' ||
        (this.o.transport === 'auto' &&
          (typeof g.EventSource !== 'function' || client.load('transport') === 'poll'))
          ? 'poll'
          : 'sse';
      this.es = null;
      this.box = {};
      this.retryTimer = null;
      this.stableTimer = null;
      this.failures = 0;
      this.sseFailures = 0;
      this.suspect = false;
      // A tab taking over from a leader whose connection was open is reconnecting, not connecting.
      this.everOpen = client.state !== 'connecting';
      this.openedAt = 0;
      this.onSseEvent = (ev) => this.sseEvent(ev);
      this.onOnline = () => {
        if (this.retryTimer !== null) {
          clearTimeout(this.retryTimer);
          this.retryTimer = null;
          this.attempt();
        }
      };
      // A page restored from the back/forward cache may hold a stream the browser closed.
      this.onPageShow = (ev) => {
        if (ev.persisted && this.es && this.es.readyState === 2) this.sseFailed(this.es);
      };
      if (typeof g.addEventListener === 'function') {
        g.addEventListener('online', this.onOnline);
        g.addEventListener('pageshow', this.onPageShow);
      }
    }

    start() {
      this.attempt();
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      if (typeof g.removeEventListener === 'function') {
        g.removeEventListener('online', this.onOnline);
        g.removeEventListener('pageshow', this.onPageShow);
      }
      clearTimeout(this.retryTimer);
      clearTimeout(this.stableTimer);
      this.closeEs();
      if (this.box.abort) this.box.abort();
    }

    /** Starts listening for another event name on the open stream (long-poll hears every name). */
    listen(name) {
      if (this.es) this.es.addEventListener(name, this.onSseEvent);
    }

    get(path, params, timeoutMs) {
      if (this.c.token) params.token = this.c.token;
      return httpGet(withQuery(this.c.base, path, params), timeoutMs, this.o.withCredentials, this.box);
    }

    /** One connection attempt: the first, and each one after a failure's backoff. */
    async attempt() {
      this.retryTimer = null;
      if (this.closed) return;
      this.c.setState(this.everOpen ? 'reconnecting' : 'connecting', this.transport);
      try {
        await this.c.tokenNow();
        if (this.c.tokenExpired()) {
          await this.c.refreshToken();
          this.suspect = false; // the stream ended because the token expired, not because of the network
        }
        if (this.transport === 'sse' && (this.suspect || this.c.lastId === undefined)) await this.probe();
        if (this.closed) return;
        if (this.transport === 'poll') await this.pollLoop();
        else this.openSse();
      } catch (err) {
        this.fail(err);
      }
    }

    /**
     * `GET /poll` without a cursor answers at once: the current position (so a fresh stream
     * resumes from the moment we connected, which EventSource would not tell us), or 401 (the
     * token, not the network, is the problem). After a stream failed while this answered 200,
     * the stream itself is suspect: several in a row switch `auto` to long-poll.
     */
    async probe() {
      for (let i = 0; ; i++) {
        const r = await this.get('/poll', {}, 10000);
        if (this.closed) return;
        if (r.status === 401) {
          if (i > 0) throw new HttpError(401, 'GET /poll with a fresh token'); // retried with backoff
          await this.c.refreshToken();
          this.suspect = false; // the token, not the stream, was the problem
          continue;
        }
        if (r.status !== 200 || !isPollBody(r.body)) throw new HttpError(r.status, 'GET /poll');
        if (this.c.lastId === undefined) this.c.setPosition(r.body.cursor);
        if (this.suspect) {
          this.suspect = false;
          this.sseFailures++;
          if (this.o.transport === 'auto' && this.sseFailures >= this.o.sseFailuresBeforePoll) {
            this.transport = 'poll'; // streams keep failing where plain requests work: a buffering proxy
            this.c.save('transport', 'poll');
          }
        }
        return;
      }
    }

    openSse() {
      const params = { lastEventId: this.c.lastId };
      if (this.c.token) params.token = this.c.token;
      const es = new g.EventSource(withQuery(this.c.base, '/events', params), {
        withCredentials: !!this.o.withCredentials,
      });
      this.es = es;
      const openTimer = setTimeout(() => this.sseFailed(es), this.o.openTimeout);
      es.onopen = () => {
        clearTimeout(openTimer);
        if (es === this.es) this.opened();
      };
      es.onerror = () => {
        clearTimeout(openTimer);
        this.sseFailed(es);
      };
      es.addEventListener('reset', this.onSseEvent);
      for (const name of this.c.allNames) es.addEventListener(name, this.onSseEvent);
    }

    sseEvent(ev) {
      if (ev.target !== this.es || this.closed) return;
      const data = parseJson(ev.data);
      if (ev.type === 'reset') {
        this.c.acceptReset({
          id: ev.lastEventId,
          reason: data?.reason ? String(data.reason) : 'reset',
        });
      } else {
        // Failures are forgiven only after `stableAfter`: a stream that delivers a message and
        // dies, over and over, still backs off.
        this.c.accept({ id: ev.lastEventId, event: ev.type, data: data === undefined ? ev.data : data });
      }
    }

    closeEs() {
      if (!this.es) return;
      this.es.onopen = null;
      this.es.onerror = null;
      this.es.close();
      this.es = null;
    }

    /**
     * EventSource would retry on its own every `retry:` ms, forever and in step with every other
     * client; we close it and reconnect ourselves, with backoff, jitter, and our own last id.
     */
    sseFailed(es) {
      if (es !== this.es || this.closed) return;
      const lived = this.openedAt ? Date.now() - this.openedAt : 0;
      this.closeEs();
      clearTimeout(this.stableTimer);
      this.openedAt = 0;
      if (lived < this.o.stableAfter) this.suspect = true;
      this.fail(new Error('ssepush: stream interrupted'));
    }

    opened() {
      this.everOpen = true;
      this.openedAt = Date.now();
      this.c.setState('open', this.transport);
      clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        this.failures = 0;
        this.sseFailures = 0;
      }, this.o.stableAfter);
    }

    async pollLoop() {
      let refreshed = false;
      // The first request of a (re)connection does not wait: it confirms the server accepts us
      // (state `open`) and fetches what was missed at once.
      let first = true;
      let early = 0;
      while (!this.closed && this.transport === 'poll') {
        const params = { timeout: first ? 0 : this.o.pollTimeout };
        if (this.c.lastId !== undefined) params.cursor = this.c.lastId;
        const sent = Date.now();
        const r = await this.get('/poll', params, (this.o.pollTimeout + 15) * 1000);
        if (this.closed) return;
        if (r.status === 401) {
          if (refreshed) throw new HttpError(401, 'GET /poll with a fresh token'); // retried with backoff
          await this.c.refreshToken();
          refreshed = true;
          continue;
        }
        if (r.status !== 200 || !isPollBody(r.body)) throw new HttpError(r.status, 'GET /poll');
        refreshed = false;
        first = false;
        this.failures = 0;
        if (this.c.state !== 'open' || this.c.transport !== 'poll') {
          this.everOpen = true;
          this.c.setState('open', 'poll');
        }
        if (r.body.reset) this.c.acceptReset({ id: r.body.cursor, reason: 'history_lost' });
        for (const m of r.body.messages) {
          if (m && typeof m.id === 'string')
            this.c.accept({ id: m.id, event: m.event, data: m.data, time: m.time });
        }
        this.c.setPosition(r.body.cursor);
        // A wait that keeps ending at once with nothing (a proxy cutting requests short) must not
        // turn into a request loop: back off as after a failure.
        if (params.timeout > 0 && r.body.messages.length === 0 && Date.now() - sent < 1000) {
          early++;
          if (early > 1) await new Promise((resolve) => setTimeout(resolve, this.delay(early - 1)));
        } else early = 0;
      }
    }

    fail(err) {
      if (this.closed) return;
      if (err instanceof AuthError) {
        this.c.fatal(err);
        return;
      }
      this.failures++;
      this.c.setState(this.everOpen ? 'reconnecting' : 'connecting', this.transport, err);
      this.retryTimer = setTimeout(() => this.attempt(), this.delay(this.failures));
    }

    /** Exponential backoff with jitter: between half and all of min·2^(n-1), capped. */
    delay(n) {
      const cap = Math.min(this.o.maxRetryDelay, this.o.minRetryDelay * 2 ** (n - 1));
      return cap / 2 + Math.random() * (cap / 2);
    }
  }

  /**
   * Cross-tab sharing: tabs of one uid elect a leader with a Web Lock; the leader holds the one
   * connection and relays everything over a BroadcastChannel. A tab that (re)joins first fetches
   * what it missed since its own last id with a non-waiting poll, so a follower's reload loses
   * nothing either. When the leader goes, the lock passes to the next tab, which resumes from
   * the last id it was relayed.
   */
  class Share {
    constructor(client, name) {
      this.c = client;
      this.name = name;
      this.id = Math.random().toString(36).slice(2);
      this.leader = false;
      this.closed = false;
      // With a last id to resume from, relays wait until we know whether we lead (and resume
      // through our own connection) or follow (and first catch up from that id).
      this.catching = client.lastId !== undefined ? [] : null;
      this.box = {};
      this.release = null;
      this.ac = new g.AbortController();
      this.ch = new g.BroadcastChannel(name);
      this.ch.onmessage = (ev) => this.receive(ev.data);
      const locks = g.navigator.locks;
      locks
        .request(name, { ifAvailable: true }, (lock) => (lock ? this.lead() : null))
        .then(() => {
          if (this.leader || this.closed) return;
          this.follow();
          return locks.request(name, { signal: this.ac.signal }, () => this.lead());
        })
        .catch(() => {}); // AbortError after close()
    }

    post(msg) {
      if (this.closed) return;
      msg.from = this.id;
      try {
        this.ch.postMessage(msg);
      } catch {
        // a message that cannot be cloned is not relayed; the data came from JSON, so it can
      }
    }

    follow() {
      this.c.role = 'follower';
      this.post({ t: 'hello', names: [...this.c.allNames] });
      if (this.c.lastId !== undefined) this.catchUp();
    }

    lead() {
      if (this.closed) return null;
      this.leader = true;
      this.c.role = 'leader';
      if (this.box.abort) this.box.abort();
      this.flush();
      this.post({ t: 'leader', names: [...this.c.allNames] });
      this.c.startLink();
      return new Promise((resolve) => {
        this.release = resolve;
      });
    }

    /** A follower's own catch-up from its last id; live relays wait in `catching` meanwhile. */
    async catchUp() {
      this.catching = this.catching || [];
      let refreshed = false;
      try {
        for (let i = 0; i < 100 && !this.leader && !this.closed; i++) {
          await this.c.tokenNow();
          const params = { cursor: this.c.lastId, timeout: 0 };
          if (this.c.token) params.token = this.c.token;
          const url = withQuery(this.c.base, '/poll', params);
          const r = await httpGet(url, 15000, this.c.options.withCredentials, this.box);
          if (this.leader || this.closed) break;
          if (r.status === 401 && !refreshed) {
            refreshed = true;
            await this.c.refreshToken();
            continue;
          }
          if (r.status !== 200 || !isPollBody(r.body)) break;
          if (r.body.reset) this.c.acceptReset({ id: r.body.cursor, reason: 'history_lost' });
          for (const m of r.body.messages)
            this.c.accept({ id: m.id, event: m.event, data: m.data, time: m.time });
          this.c.setLastId(r.body.cursor);
          if (r.body.reset || r.body.messages.length === 0) break;
        }
      } catch {
        // the relay goes on; a later leader change resumes from whatever we reached
      }
      this.flush();
    }

    /** Applies relays that arrived during catch-up; duplicates are dropped by id. */
    flush() {
      const queued = this.catching;
      this.catching = null;
      if (!queued || this.leader) return;
      for (const msg of queued) this.apply(msg);
    }

    receive(msg) {
      if (this.closed || !msg || msg.from === this.id) return;
      if (Array.isArray(msg.names)) for (const n of msg.names) this.c.addName(n, false);
      if (this.leader) {
        if (msg.t === 'hello') {
          this.post({
            t: 'sync',
            to: msg.from,
            lastId: this.c.lastId,
            state: this.c.state,
            transport: this.c.transport,
            names: [...this.c.allNames],
          });
        }
        return;
      }
      if (msg.t === 'leader') {
        this.post({ t: 'listen', names: [...this.c.allNames] });
        return;
      }
      if (msg.t === 'sync' && msg.to === this.id) {
        if (this.c.lastId === undefined && typeof msg.lastId === 'string') this.c.setLastId(msg.lastId);
        this.c.setState(msg.state, msg.transport);
        return;
      }
      if (this.catching) {
        if (msg.t === 'msg' || msg.t === 'reset') this.catching.push(msg);
        else if (msg.t === 'state') this.apply(msg);
        return;
      }
      this.apply(msg);
    }

    apply(msg) {
      if (msg.t === 'msg') this.c.accept(msg.m);
      else if (msg.t === 'reset') this.c.acceptReset(msg.r);
      else if (msg.t === 'pos' && typeof msg.id === 'string') this.c.setLastId(msg.id);
      else if (msg.t === 'state' && STATES.indexOf(msg.state) >= 0) this.c.setState(msg.state, msg.transport);
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      this.ac.abort();
      if (this.box.abort) this.box.abort();
      if (this.release) this.release();
      this.ch.close();
    }
  }

  /** The handle `connect()` returns. */
  class Client {
    constructor(options) {
      const o = Object.assign({}, DEFAULTS, options);
      if (['auto', 'sse', 'poll'].indexOf(o.transport) < 0) {
        throw new TypeError(`ssepush: transport must be 'auto', 'sse' or 'poll', not ${o.transport}`);
      }
      if (o.transport === 'sse' && typeof g.EventSource !== 'function') {
        throw new TypeError("ssepush: transport 'sse' needs EventSource, which this browser lacks");
      }
      this.options = o;
      this.base = String(o.url || '').replace(/\/+$/, '');
      this.token = typeof o.token === 'string' && o.token ? o.token : undefined;
      this.state = 'connecting';
      this.transport = null;
      this.role = 'solo';
      this.lastId = undefined;
      this.closed = false;
      this.link = null;
      this.share = null;
      this.scope = null;
      this.refreshing = null;
      this.handlers = new Map();
      this.names = new Set(['message']);
      this.allNames = new Set(['message']);
      for (const n of o.events || []) this.addName(n, true);
      this.seen = new Set();
      this.start().catch((err) => this.fatal(err));
    }

    async start() {
      // A token endpoint that fails at page load is retried with backoff, not given up on.
      for (let n = 1; !this.closed; n++) {
        try {
          await this.tokenNow();
          break;
        } catch (err) {
          const cap = Math.min(this.options.maxRetryDelay, this.options.minRetryDelay * 2 ** (n - 1));
          this.setState('connecting', null, err);
          await new Promise((resolve) => setTimeout(resolve, cap / 2 + Math.random() * (cap / 2)));
        }
      }
      if (this.closed) return;
      const claims = this.token ? claimsOf(this.token) : {};
      const uid = this.options.uid !== undefined ? this.options.uid : claims.sub;
      const groups = Array.isArray(claims.groups) ? claims.groups.map(String).sort().join(',') : '';
      const scope = `ssepush:${this.base || g.location?.origin || ''}:${uid === undefined ? '' : uid}`;
      this.scope = scope;
      const saved = this.load('last');
      if (saved) this.lastId = saved;
      const canShare =
        this.options.shareAcrossTabs !== false &&
        typeof g.BroadcastChannel === 'function' &&
        typeof g.AbortController === 'function' &&
        g.navigator?.locks &&
        typeof g.navigator.locks.request === 'function';
      if (canShare) this.share = new Share(this, `${scope}:${groups}`);
      else this.startLink();
    }

    startLink() {
      if (this.closed || this.link) return;
      this.link = new Link(this);
      this.link.start();
    }

    /** The current token, asking `getToken()` the first time when none was given. */
    async tokenNow() {
      if (this.token || typeof this.options.getToken !== 'function') return this.token;
      return this.refreshToken();
    }

    /** Calls `getToken()` once for any number of concurrent callers. */
    refreshToken() {
      if (typeof this.options.getToken !== 'function') {
        return Promise.reject(
          new AuthError('ssepush: the server refused the token (401) and no getToken was given'),
        );
      }
      if (!this.refreshing) {
        this.refreshing = Promise.resolve()
          .then(() => this.options.getToken())
          .then((t) => {
            if (typeof t !== 'string' || t === '')
              throw new Error('ssepush: getToken() must resolve to a token');
            this.token = t;
            return t;
          })
          .finally(() => {
            this.refreshing = null;
          });
      }
      return this.refreshing;
    }

    /** True when the token's own `exp` has passed (a hint only; the server decides). */
    tokenExpired() {
      if (!this.token || typeof this.options.getToken !== 'function') return false;
      const exp = claimsOf(this.token).exp;
      return typeof exp === 'number' && exp * 1000 <= Date.now();
    }

    addName(name, own) {
      if (typeof name !== 'string' || name === '' || name === 'reset') return;
      if (own && !this.names.has(name)) {
        this.names.add(name);
        if (this.share && !this.share.leader) this.share.post({ t: 'listen', names: [name] });
      }
      if (!this.allNames.has(name)) {
        this.allNames.add(name);
        if (this.link) this.link.listen(name);
      }
    }

    setLastId(id) {
      if (typeof id !== 'string' || id === '') return;
      this.lastId = id;
      this.save('last', id);
    }

    /** sessionStorage, per server and uid: survives reloads, not the tab. */
    load(name) {
      const store = sessionStore();
      try {
        return store && this.scope ? store.getItem(`${this.scope}:${name}`) : null;
      } catch {
        return null;
      }
    }

    save(name, value) {
      const store = sessionStore();
      try {
        if (store && this.scope) store.setItem(`${this.scope}:${name}`, value);
      } catch {
        // quota or disabled storage: resuming within this page still works
      }
    }

    /** A position without a message (fresh start, empty poll): later resumes start here. */
    setPosition(id) {
      if (id === this.lastId) return;
      this.setLastId(id);
      if (this.share?.leader) this.share.post({ t: 'pos', id });
    }

    accept(m) {
      if (this.closed || !m || typeof m.id !== 'string' || this.seen.has(m.id)) return;
      this.seen.add(m.id);
      if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value);
      this.setLastId(m.id);
      if (this.share?.leader) this.share.post({ t: 'msg', m });
      if (!this.names.has(m.event)) return;
      call(this.options.onMessage, m);
      const hs = this.handlers.get(m.event);
      if (hs) for (const h of [...hs]) call(h, m.data, m);
    }

    acceptReset(r) {
      if (this.closed || !r) return;
      this.setLastId(r.id);
      if (this.share?.leader) this.share.post({ t: 'reset', r });
      call(this.options.onReset, r);
      const hs = this.handlers.get('reset');
      if (hs) for (const h of [...hs]) call(h, r, r);
    }

    setState(state, transport, error) {
      if (this.closed && state !== 'closed') return;
      const changed = state !== this.state || (transport || null) !== this.transport;
      this.state = state;
      this.transport = transport || null;
      if (this.share?.leader) this.share.post({ t: 'state', state, transport: this.transport });
      if (changed) {
        call(this.options.onStateChange, state, {
          transport: this.transport,
          role: this.role,
          error: error || undefined,
        });
      }
    }

    fatal(err) {
      if (this.closed) return;
      call(this.options.onError, err);
      this.setState('closed', this.transport, err);
      this.close();
    }

    on(event, handler) {
      if (typeof handler !== 'function') throw new TypeError('ssepush: on() needs a handler function');
      let hs = this.handlers.get(event);
      if (!hs) {
        hs = new Set();
        this.handlers.set(event, hs);
      }
      hs.add(handler);
      this.addName(event, true);
      return this;
    }

    off(event, handler) {
      const hs = this.handlers.get(event);
      if (!hs) return this;
      if (handler) hs.delete(handler);
      else hs.clear();
      return this;
    }

    close() {
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

  /** Public surface: a thin facade so internals stay private. */
  function connect(options) {
    if (!options || typeof options !== 'object') throw new TypeError('ssepush: connect() needs options');
    const c = new Client(options);
    const handle = {
      on(event, handler) {
        c.on(event, handler);
        return handle;
      },
      off(event, handler) {
        c.off(event, handler);
        return handle;
      },
      close() {
        c.close();
      },
      get state() {
        return c.state;
      },
      get transport() {
        return c.transport;
      },
      get role() {
        return c.role;
      },
      get lastEventId() {
        return c.lastId;
      },
    };
    return handle;
  }

  return { connect, version: VERSION };
});
