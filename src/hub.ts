import type { Subscriber } from './auth.js';
import { type Broker, clusterAbilities } from './broker.js';
import type { Config } from './config.js';
import { MemoryControl } from './control-memory.js';
import { MemoryDisconnectNotices } from './disconnect-notices-memory.js';
import { type DisconnectRequest, Disconnects } from './disconnects.js';
import { limited, unavailable } from './errors.js';
import { FanOut } from './fan-out.js';
import type { OnceArgs, OnceResult } from './idempotency.js';
import { LiveGroups } from './live-groups.js';
import type { Logger } from './logger.js';
import type { CloseReason, Member, SessionHost } from './member.js';
import type { PublishInput, Targets } from './message.js';
import type { Metrics } from './metrics.js';
import { type PollAnswer, PollSession, UnreadAnswers } from './poll-session.js';
import type { OnlineStats, Presence, UidPage, UidPageQuery } from './presence.js';
import { MemoryPresence } from './presence-memory.js';
import { Publisher, type PushResult } from './publisher.js';
import { Registry } from './registry.js';
import { MemoryRevocations } from './revocations-memory.js';
import type { GroupChange } from './runtime-groups.js';
import { MemoryRuntimeGroups } from './runtime-groups-memory.js';
import { type SseSink, StreamSession } from './stream-session.js';

export type { DisconnectRequest } from './disconnects.js';
export { POLL_BATCH_MAX, type PollAnswer } from './poll-session.js';
export type { OnlineStats } from './presence.js';
export type { PushResult } from './publisher.js';

/** Per-uid first-connection / last-disconnection notices of this node (memory-mode webhooks). */
export interface UidWatcher {
  up(uid: string): void;
  down(uid: string): void;
}
export type { SseSink } from './stream-session.js';

/**
 * Owns every live connection of this process (its registry): admits, opens and ends them, runs
 * the shared heartbeat and expiry timers, and drains on shutdown. Fan-out and the head position
 * are `fan-out.ts`'s, `POST /disconnect` and revocations `disconnects.ts`'s, runtime groups
 * `live-groups.ts`'s, publishing `publisher.ts`'s; the hub wires them to one registry and is the
 * one entry point the HTTP edge calls. What a stream or a poll does is theirs
 * (`stream-session.ts`, `poll-session.ts`); the hub treats both as a `Member`.
 */
export class Hub {
  private readonly registry = new Registry<Member>();
  /** Poll answers still leaving their socket: they count against the limits, see `holdAnswer`. */
  private readonly unread = new UnreadAnswers();
  private readonly presence: Presence;
  /** `POST /disconnect`: the control channel, revocations and notices for polls. */
  private readonly disconnects: Disconnects;
  /** Runtime groups (`POST /groups`) applied to this node's connections. */
  private readonly groups: LiveGroups;
  private readonly publisher: Publisher;
  private readonly host: SessionHost;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly expiryTimer: NodeJS.Timeout;
  private accepting = true;
  /** Fan-out of the broker's messages, the head position, epoch changes and catch-ups. */
  private readonly fan: FanOut;

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
    // `groups` is created below; the catch-up calls this only once the hub runs.
    this.fan = new FanOut(this.registry, broker, cluster, metrics, log, () => this.groups.refresh());
    const presence = cluster?.presence ?? new MemoryPresence(this.registry);
    this.presence = presence;
    this.disconnects = new Disconnects(
      cluster?.control ?? new MemoryControl(),
      cluster?.revocations ??
        new MemoryRevocations({ ttlSec: config.revokeTtlSec, max: config.maxRevocations }),
      cluster?.disconnectNotices ??
        new MemoryDisconnectNotices({ ttlSec: config.disconnectNoticeSec, max: config.maxDisconnectNotices }),
      {
        broker,
        registry: this.registry,
        presence,
        head: () => this.fan.head,
        metrics,
        log,
        noticeSec: config.disconnectNoticeSec,
      },
    );
    this.groups = new LiveGroups(
      cluster?.runtimeGroups ??
        new MemoryRuntimeGroups({
          ttlMs: config.groupsTtlSec * 1000,
          maxUids: config.maxRuntimeGroupUids,
          maxGroupsPerUid: config.maxGroupsPerToken,
        }),
      cluster?.runtimeGroups === undefined,
      this.registry,
      presence,
    );
    this.publisher = new Publisher(broker, presence, this.registry, cluster === undefined, metrics);
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs);
    this.heartbeat.unref();
    this.expiryTimer = setInterval(() => this.expire(), 1000);
    this.expiryTimer.unref();
    broker.position().then(
      (id) => this.fan.startAt(id),
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

  /** See `Disconnects.revocationsLoading`: await it, when there is one, before `checkRevoked`. */
  revocationsLoading(): Promise<void> | undefined {
    return this.disconnects.revocationsLoading();
  }

  /** Refuses (401 `token_revoked`) a revoked token; see `Disconnects.checkRevoked`. */
  checkRevoked(sub: Subscriber, cursor?: string): void {
    this.disconnects.checkRevoked(sub, cursor);
  }

  /** `sub` with its runtime groups applied; see `LiveGroups.subscriberNow`. */
  subscriberNow(sub: Subscriber): Promise<Subscriber> {
    return this.groups.subscriberNow(sub);
  }

  /** `subscriberNow` answered in this call (memory mode), else `undefined`; see `LiveGroups`. */
  subscriberKnown(sub: Subscriber): Subscriber | undefined {
    return this.groups.subscriberKnown(sub);
  }

  /** `POST /disconnect` on every node; see `Disconnects.disconnect`. */
  async disconnect(req: DisconnectRequest): Promise<{ uids: number; connections: number }> {
    this.checkOpen();
    return this.disconnects.disconnect(req);
  }

  /**
   * `POST /groups`: changes the runtime groups of `c.uids` deployment-wide; resolves once this
   * node's live connections follow, with those uids' presence at that time.
   */
  async changeGroups(c: GroupChange): Promise<{ uids: number; connections: number }> {
    this.checkOpen();
    return this.groups.change(c);
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
    const notice = cursor === undefined ? undefined : this.disconnects.noticeFor(sub, cursor);
    waiter.open(this.broker, cursor, timeoutMs, this.fan.head, notice);
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
    return this.publishNow(inputs) ?? this.publisher.publish(inputs);
  }

  /** `publish` finished in this call (memory mode), else `undefined`; see `Publisher.publishNow`. */
  publishNow(inputs: readonly PublishInput[]): PushResult[] | undefined {
    this.checkOpen();
    return this.publisher.publishNow(inputs);
  }

  /** Publishes unless `once.key` is already recorded; see `Publisher.publishOnce`. */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<PushResult[]>> {
    this.checkOpen();
    return this.publisher.publishOnce(inputs, once);
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

  private dropSlow(m: Member, buffered: number): void {
    this.metrics?.slowDropped.inc();
    this.log.info({ uid: m.uid, buffered }, 'slow client dropped');
    m.end('slow');
  }

  /** One timer for all streams (see `FanOut.beat`). */
  private beat(): void {
    this.fan.beat();
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
    this.fan.close();
    await this.disconnects.close();
    await this.groups.close();
    await this.broker.close();
  }
}
