import type { Subscriber } from './auth.js';
import { type Broker, clusterAbilities } from './broker.js';
import { CatchUp, type CatchUpHost } from './catch-up.js';
import type { Config } from './config.js';
import type { Control, ControlCommand } from './control.js';
import { MemoryControl } from './control-memory.js';
import { type DisconnectNotice, type DisconnectNotices, markInput, untold } from './disconnect-notices.js';
import { MemoryDisconnectNotices } from './disconnect-notices-memory.js';
import { limited, unauthorized, unavailable } from './errors.js';
import { type OnceArgs, type OnceResult, onceAbility } from './idempotency.js';
import { atOrBefore, type Mark, markAt, markOf } from './ids.js';
import type { Logger } from './logger.js';
import type { CloseReason, Member, SessionHost } from './member.js';
import type { Message, PublishInput, Targets } from './message.js';
import type { Metrics } from './metrics.js';
import { type PollAnswer, PollSession, UnreadAnswers } from './poll-session.js';
import type { OnlineStats, Presence, UidPage, UidPageQuery } from './presence.js';
import { MemoryPresence } from './presence-memory.js';
import { Registry } from './registry.js';
import { nowSec, type Revocations } from './revocations.js';
import { MemoryRevocations } from './revocations-memory.js';
import { applyChange, effectiveGroups, type GroupChange, type RuntimeGroups } from './runtime-groups.js';
import { MemoryRuntimeGroups } from './runtime-groups-memory.js';
import { type SseSink, StreamSession } from './stream-session.js';

export { POLL_BATCH_MAX, type PollAnswer } from './poll-session.js';
export type { OnlineStats } from './presence.js';

/** Per-uid first-connection / last-disconnection notices of this node (memory-mode webhooks). */
export interface UidWatcher {
  up(uid: string): void;
  down(uid: string): void;
}
export type { SseSink } from './stream-session.js';

/** The answer to one published message. */
export interface PushResult {
  readonly id: string;
  /** Whether any addressed uid or group (anyone, for a broadcast) had a live connection. */
  readonly online: boolean;
  /** Connections (streams and waiting polls) the message was handed to. */
  readonly delivered: number;
}

/** What `POST /disconnect` asks: whose connections end, what they are told, and whether to revoke. */
export interface DisconnectRequest {
  readonly uids: readonly string[];
  readonly reason: string;
  readonly reconnect: boolean;
  readonly revoke: boolean;
}

/**
 * Owns every live connection of this process (its registry), fans published messages out to
 * them, tells them when the backend's history was replaced, sends the shared heartbeat, ends
 * expired connections, and drains on shutdown. What a stream or a poll does with each of those
 * is theirs (`stream-session.ts`, `poll-session.ts`); the hub treats both as a `Member`.
 */
export class Hub {
  private readonly registry = new Registry<Member>();
  /** Poll answers still leaving their socket: they count against the limits, see `holdAnswer`. */
  private readonly unread = new UnreadAnswers();
  private readonly presence: Presence;
  /** Presence is this node's registry (no cluster): reach can be counted without asking. */
  private readonly localPresence: boolean;
  /** Carries `POST /disconnect` to every node (this one alone in memory mode). */
  private readonly control: Control;
  private readonly revocations: Revocations;
  /** What `POST /disconnect` told whom, for polls that were between two requests (see `poll`). */
  private readonly notices: DisconnectNotices;
  /** Runtime group changes (`POST /groups`): the cluster's in Redis mode, else this process's. */
  private readonly runtimeGroups: RuntimeGroups;
  private readonly ownsRuntimeGroups: boolean;
  /**
   * Uids whose runtime groups are being read for a new connection, with the changes seen
   * meanwhile: a change that arrives during the read may be missing from it, so it is read again.
   */
  private readonly reading = new Map<string, { readers: number; changes: number }>();
  private readonly host: SessionHost;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly expiryTimer: NodeJS.Timeout;
  /** Newest position this hub has fanned out (or the start position): heartbeat ids, epoch changes. */
  private head: Mark | undefined;
  private accepting = true;
  /** Catches live connections up after the cluster broker's subscription came back. */
  private readonly catchUp: CatchUp | undefined;

  constructor(
    private readonly config: Config,
    readonly broker: Broker,
    private readonly metrics: Metrics | undefined,
    private readonly log: Logger,
    /** Told when a uid gets its first connection on this node and when its last one ends (webhooks). */
    private readonly watch?: UidWatcher,
  ) {
    this.host = {
      metrics,
      log,
      ended: (m) => this.ended(m),
      slow: (m, buffered) => this.dropSlow(m, buffered),
    };
    const cluster = clusterAbilities(broker);
    // Only a cluster broker loses its subscription: memory mode fans out directly, as ever.
    const catchUp = cluster && new CatchUp(broker, this.catchUpHost(log));
    this.catchUp = catchUp;
    if (catchUp) {
      broker.subscribe((m) => {
        if (!catchUp.hold(m)) this.fanOut(m);
      });
      cluster.onResync(() => catchUp.resync());
    } else broker.subscribe((m) => this.fanOut(m));
    this.presence = cluster?.presence ?? new MemoryPresence(this.registry);
    this.localPresence = cluster === undefined;
    this.control = cluster?.control ?? new MemoryControl();
    this.revocations =
      cluster?.revocations ??
      new MemoryRevocations({ ttlSec: config.revokeTtlSec, max: config.maxRevocations });
    this.notices =
      cluster?.disconnectNotices ??
      new MemoryDisconnectNotices({ ttlSec: config.disconnectNoticeSec, max: config.maxDisconnectNotices });
    this.control.listen((cmd) => this.apply(cmd));
    this.ownsRuntimeGroups = cluster?.runtimeGroups === undefined;
    this.runtimeGroups =
      cluster?.runtimeGroups ??
      new MemoryRuntimeGroups({
        ttlMs: config.groupsTtlSec * 1000,
        maxUids: config.maxRuntimeGroupUids,
        maxGroupsPerUid: config.maxGroupsPerToken,
      });
    this.runtimeGroups.subscribe((c) => this.regroup(c));
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs);
    this.heartbeat.unref();
    this.expiryTimer = setInterval(() => this.expire(), 1000);
    this.expiryTimer.unref();
    broker.position().then(
      (id) => {
        // Fan-out may have set it first: a position ahead of it is not what this node has sent.
        if (this.head === undefined) this.head = markOf(id);
      },
      () => {},
    );
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  get counts(): { streams: number; polls: number; uids: number } {
    return this.registry.counts;
  }

  /** Refuses a new connection for `sub` when a limit is reached; call before writing anything. */
  admit(sub: Subscriber): void {
    this.checkOpen();
    const max = this.config.maxConnections;
    if (max > 0 && this.registry.size + this.unread.size >= max) {
      this.metrics?.rejected.inc({ limit: 'connections' });
      throw unavailable(`server holds its maximum of ${max} connections`, 'too_many_connections');
    }
    const perUid = this.config.maxConnectionsPerUid;
    if (perUid > 0 && this.registry.countOf(sub.uid) + this.unread.countOf(sub.uid) >= perUid) {
      this.metrics?.rejected.inc({ limit: 'per_uid' });
      throw limited(`uid already has ${perUid} connections`);
    }
  }

  /**
   * A promise to await before `checkRevoked` while revocations reload after a Redis blip (one
   * round trip; at most 2 s, then `checkRevoked` answers 503): a client reconnecting right after
   * a blip is served, not refused. `undefined` (the usual case) when they can answer now.
   */
  revocationsLoading(): Promise<void> | undefined {
    return this.revocations.loading?.(2000);
  }

  /**
   * Refuses (401 `token_revoked`) a subscriber whose token was revoked; call on every connect,
   * after the token is verified and before anything is written.
   */
  checkRevoked(sub: Subscriber): void {
    if (this.revocations.isRevoked(sub.uid, sub.issuedAt)) {
      this.metrics?.rejected.inc({ limit: 'revoked' });
      throw unauthorized('this token was revoked; sign a new one', 'token_revoked');
    }
  }

  /**
   * `sub` with the groups its connections have now: its token's, plus those its uid joined at run
   * time, minus those it left. Call right before `admit` and opening (no await in between): a
   * change that arrives later regroups the connection once it is registered.
   */
  async subscriberNow(sub: Subscriber): Promise<Subscriber> {
    const known = this.subscriberKnown(sub);
    if (known) return known;
    const watch = this.reading.get(sub.uid) ?? { readers: 0, changes: 0 };
    watch.readers++;
    this.reading.set(sub.uid, watch);
    try {
      for (let attempt = 1; ; attempt++) {
        const seen = watch.changes;
        const delta = await this.runtimeGroups.get(sub.uid);
        if (watch.changes !== seen && attempt < 3) continue;
        const groups = effectiveGroups(sub.groups, delta);
        return groups === sub.groups ? sub : Object.freeze({ ...sub, groups: Object.freeze([...groups]) });
      }
    } finally {
      if (--watch.readers === 0) this.reading.delete(sub.uid);
    }
  }

  /**
   * `subscriberNow` answered in this call when runtime groups are held in process (memory mode),
   * so nothing can change between the read and the registration; `undefined` when they must be
   * asked (Redis). A new stream then opens without a promise or a microtask turn.
   */
  subscriberKnown(sub: Subscriber): Subscriber | undefined {
    const rg = this.runtimeGroups;
    if (!rg.getNow) return undefined;
    const groups = effectiveGroups(sub.groups, rg.getNow(sub.uid));
    return groups === sub.groups ? sub : Object.freeze({ ...sub, groups: Object.freeze([...groups]) });
  }

  /**
   * Ends every stream and waiting poll of `uids` on every node (`POST /disconnect`), revoking their
   * older tokens first when asked, so a client that reconnects at once is already refused, and
   * leaving a notice for their long-poll clients between two polls (see `poll`). Answers what
   * presence knew of them at the call: uids online and their connections.
   */
  async disconnect(req: DisconnectRequest): Promise<{ uids: number; connections: number }> {
    this.checkOpen();
    const stats = await this.presence.online(req.uids);
    let uids = 0;
    let connections = 0;
    for (const n of Object.values(stats.online ?? {})) {
      if (n > 0) uids++;
      connections += n;
    }
    const atSec = nowSec();
    if (req.revoke) await this.revocations.revoke(req.uids, atSec);
    if (this.config.disconnectNoticeSec > 0) {
      // The call takes a position of its own (see `markInput`), published before the disconnect:
      // every answer from now on carries a cursor at or past it.
      const [mark] = await this.broker.publish([markInput(req.reason)]);
      const { uids: targets, reason, reconnect } = req;
      await this.notices.record({ uids: targets, reason, reconnect, atSec, position: mark!.id });
    }
    await this.control.send({
      op: 'disconnect',
      uids: req.uids,
      reason: req.reason,
      reconnect: req.reconnect,
    });
    return { uids, connections };
  }

  /**
   * `POST /groups`: changes the runtime groups of `c.uids` deployment-wide; resolves once this
   * node's live connections follow, with those uids' presence at that time.
   */
  async changeGroups(c: GroupChange): Promise<{ uids: number; connections: number }> {
    this.checkOpen();
    await this.runtimeGroups.change(c);
    const stats = await this.presence.online(c.uids).catch(() => this.registry.online(c.uids));
    let uids = 0;
    let connections = 0;
    for (const u of c.uids) {
      const n = stats.online?.[u] ?? 0;
      if (n > 0) uids++;
      connections += n;
    }
    return { uids, connections };
  }

  /**
   * Registers an SSE stream whose response head is already sent, then writes `retry:`, the
   * replay (or reset, or the bare position for a fresh connection) and goes live. Messages
   * published meanwhile are queued on the connection and written after, each once.
   */
  openStream(sub: Subscriber, sink: SseSink, resumeId: string | undefined): StreamSession {
    const conn = new StreamSession(sub, sink, this.host, this.config.maxBufferedBytes);
    this.register(conn);
    // No log object per stream when its line would not be written (production runs at warn).
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        { uid: sub.uid, groups: sub.groups.length, resume: resumeId !== undefined },
        'stream opened',
      );
    conn.open(this.broker, resumeId, this.config.retryMs);
    return conn;
  }

  /** Unregisters a stream (its response closed, or the hub ends it). Idempotent. */
  closeStream(conn: StreamSession, reason: CloseReason = 'client'): void {
    conn.end(reason);
  }

  /**
   * Serves one long-poll (see `PollSession`): answers at once or waits up to `timeoutMs` for
   * the next message. Returns a cancel function for a client that goes away. A poll that a recent
   * `POST /disconnect` ended without telling (its client was between two polls: a token from
   * before the call, a cursor not past it) is told now, once it has what it is owed, not made to wait.
   */
  poll(
    sub: Subscriber,
    cursor: string | undefined,
    timeoutMs: number,
    answer: (a: PollAnswer) => void,
  ): () => void {
    // Half the bound, like a replay page (an unsent answer is held twice: text and encoded
    // copy); never below the largest message, since an answer carries at least one.
    const maxBytes = Math.max(this.config.maxBufferedBytes / 2, this.config.maxMessageBytes);
    const waiter = new PollSession(sub, answer, this.host, maxBytes);
    this.register(waiter);
    const notice = cursor === undefined ? undefined : this.noticeFor(sub, cursor);
    waiter.open(this.broker, cursor, timeoutMs, this.head, notice);
    return () => waiter.cancel();
  }

  /**
   * Counts a poll answer that is written but not yet handed to the OS against the connection
   * limits, until the returned release is called (its response finished or closed).
   */
  holdAnswer(sub: Subscriber): () => void {
    return this.unread.hold(sub.uid);
  }

  /** Publishes validated messages in order and reports, per message, who was reached. */
  async publish(inputs: readonly PublishInput[]): Promise<PushResult[]> {
    return this.publishNow(inputs) ?? this.report(await this.broker.publish(inputs));
  }

  /**
   * `publish` finished in this call when the broker stores in process and presence is this
   * node's registry (memory mode); `undefined` when the broker must be asked (Redis), and then
   * nothing was published. A push in memory mode then runs from its request's last byte to its
   * answer without a promise: each async hop cost garbage and a microtask turn per push.
   */
  publishNow(inputs: readonly PublishInput[]): PushResult[] | undefined {
    this.checkOpen();
    if (!this.localPresence || !this.broker.publishNow) return undefined;
    const messages = this.broker.publishNow(inputs);
    this.metrics?.published.inc(messages.length);
    return messages.map((m) => {
      const delivered = this.registry.reach(m);
      return { id: m.id, online: delivered > 0, delivered };
    });
  }

  /**
   * Publishes unless `once.key` is already recorded, the look-up and the publish being one atomic
   * broker step (issue 17; brokers with the `OnceBroker` ability, i.e. Redis).
   */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<PushResult[]>> {
    this.checkOpen();
    const b = onceAbility(this.broker);
    if (!b) throw new Error('this broker cannot publish with an idempotency key');
    const r = await b.publishOnce(inputs, once);
    return r.kind === 'recorded' ? r : { kind: 'published', value: await this.report(r.value) };
  }

  /** Counts, per message the broker just stored, who was reached. */
  private async report(messages: Message[]): Promise<PushResult[]> {
    this.metrics?.published.inc(messages.length);
    // The messages are accepted at this point: a failed presence read must not turn into an error.
    const counts = await this.presence.reach(messages).catch(() => messages.map((m) => this.reach(m)));
    return messages.map((m, i) => {
      const delivered = counts[i]!;
      return { id: m.id, online: delivered > 0, delivered };
    });
  }

  /** Presence across the deployment (`GET /online`): the cluster in Redis mode, else `online`. */
  clusterOnline(uids?: readonly string[], groups?: readonly string[]): Promise<OnlineStats> {
    return this.presence.online(uids, groups);
  }

  /** One page of the online uids across the deployment (`GET /online/uids`). */
  onlineUids(q: UidPageQuery): Promise<UidPage> {
    return this.presence.uids(q);
  }

  /** Connections of this process addressed by `t`, each counted once. */
  reach(t: Targets): number {
    return this.registry.reach(t);
  }

  /** Presence on this process: distinct uids, connections, and per-uid counts when asked. */
  online(uids?: readonly string[]): OnlineStats {
    return this.registry.online(uids);
  }

  /** The disconnect `sub`'s poll from `cursor` has not been told of, if any. */
  private noticeFor(sub: Subscriber, cursor: string): DisconnectNotice | undefined {
    const n = this.notices.find(sub.uid);
    return n && untold(n, cursor, sub.issuedAt) ? n : undefined;
  }

  /** A control command from any node (this one included). */
  private apply(cmd: ControlCommand): void {
    if (cmd.op !== 'disconnect') return;
    const members: Member[] = [];
    this.registry.forEachAddressed({ to: cmd.uids, groups: [] }, (m) => members.push(m));
    for (const m of members) m.disconnect(cmd.reason, cmd.reconnect, this.head);
    if (members.length > 0)
      this.log.info({ uids: cmd.uids.length, connections: members.length }, 'connections disconnected');
  }

  private checkOpen(): void {
    if (!this.accepting) throw unavailable('server is shutting down', 'shutting_down');
    if (!this.broker.healthy) throw unavailable('backend unavailable', 'backend_unavailable');
  }

  private register(m: Member): void {
    this.registry.add(m);
    this.presence.add(m.uid, m.groups);
    if (this.watch && this.registry.countOf(m.uid) === 1) this.watch.up(m.uid);
  }

  private ended(m: Member): void {
    if (!this.registry.remove(m)) return;
    this.presence.remove(m.uid, m.groups);
    if (this.watch && this.registry.countOf(m.uid) === 0) this.watch.down(m.uid);
  }

  /**
   * A runtime group change (of this node or another): live connections of its uids follow at once,
   * and reads in flight for them start over (see `subscriberNow`).
   */
  private regroup(c: GroupChange): void {
    for (const uid of c.uids) {
      const watch = this.reading.get(uid);
      if (watch) watch.changes++;
      for (const m of this.registry.of(uid)) {
        const d = this.registry.regroup(m, applyChange(m.groups, c));
        if (d) this.presence.regroup(uid, d.added, d.removed);
      }
    }
  }

  private dropSlow(m: Member, buffered: number): void {
    this.metrics?.slowDropped.inc();
    this.log.info({ uid: m.uid, buffered }, 'slow client dropped');
    m.end('slow');
  }

  private fanOut(m: Message): void {
    if (this.head && m.epoch !== this.head.epoch) this.epochChanged(m);
    this.setHead(m);
    // Deliveries are counted where they leave: here for live streams, and for messages queued
    // during a replay or batched for a poll when those are flushed.
    let n = 0;
    this.registry.forEachAddressed(m, (c) => {
      if (c.deliver(m)) n++;
    });
    if (n > 0) this.metrics?.delivered.inc(n);
  }

  /** A copy, not the message: the head must not keep a large message alive after history drops it. */
  private setHead(p: Mark): void {
    if (!this.head || !atOrBefore(p, this.head)) this.head = { id: p.id, epoch: p.epoch, seq: p.seq };
  }

  /**
   * The backend's history was wiped (a flushed Redis) while connections were live: their
   * positions belong to the old epoch. Each is reset to the position just before `m`, the first
   * message of the new history, except those already living in the new epoch (their replay or
   * reset came from the wiped backend): another reset would be needless and move them backwards.
   */
  private epochChanged(m: Message): void {
    const at = markAt(m.epoch, m.seq - 1);
    this.log.warn({ position: at.id }, 'history epoch changed; live connections reset');
    for (const c of this.registry.snapshot()) {
      if (c.live && c.epoch === at.epoch) continue;
      c.reset(at, 'epoch_changed');
    }
  }

  /** What a catch-up after a lost subscription uses of this hub (see `catch-up.ts`). */
  private catchUpHost(log: Logger): CatchUpHost {
    return {
      members: () => this.registry.snapshot(),
      head: () => this.head,
      fanOut: (m) => this.fanOut(m),
      caughtUp: (at) => {
        if (!this.head || this.head.epoch === at.epoch) this.setHead(at);
      },
      delivered: (n) => this.metrics?.delivered.inc(n),
      log,
    };
  }

  /** One timer for all streams; live ones also learn the newest position (see `heartbeat`). */
  private beat(): void {
    const frame = this.head ? `:\nid:${this.head.id}\n\n` : ':\n\n';
    const head = this.head;
    this.registry.forEach((c) => {
      c.heartbeat(frame, head);
    });
  }

  /** Ends connections whose token has expired; the client reconnects with a fresh token. */
  private expire(): void {
    for (const c of this.registry.expired(Math.floor(Date.now() / 1000))) c.end('expired');
  }

  /**
   * Stops accepting, ends every stream cleanly (clients reconnect elsewhere and replay) and
   * answers every waiting poll with its cursor. Idempotent.
   */
  drain(): void {
    if (!this.accepting) return;
    this.accepting = false;
    clearInterval(this.heartbeat);
    clearInterval(this.expiryTimer);
    for (const c of this.registry.snapshot()) c.end('shutdown');
  }

  async close(): Promise<void> {
    this.drain();
    this.catchUp?.close();
    await this.control.close();
    await this.revocations.close();
    await this.notices.close();
    if (this.ownsRuntimeGroups) await this.runtimeGroups.close();
    await this.broker.close();
  }
}
