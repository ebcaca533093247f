import type { Subscriber } from './auth.js';
import type { Broker } from './broker.js';
import type { Config } from './config.js';
import {
  type CloseReason,
  type Member,
  POLL_BATCH_MAX,
  type PollAnswer,
  PollConn,
  type SseConn,
  SseConn as SseConnClass,
  type SseSink,
} from './connection.js';
import { limited, unavailable } from './errors.js';
import type { OnceArgs, OnceBroker, OnceResult } from './idempotency.js';
import { formatId, parseId } from './ids.js';
import type { Logger } from './logger.js';
import type { Message, PublishInput, Targets } from './message.js';
import { streamsOfSubscriber } from './message.js';
import type { Metrics } from './metrics.js';
import { clusterAbilities, type Presence } from './presence.js';

export { POLL_BATCH_MAX } from './connection.js';

/** The answer to one published message. */
export interface PushResult {
  readonly id: string;
  /** Whether any addressed uid or group (anyone, for a broadcast) had a live connection. */
  readonly online: boolean;
  /** Connections (streams and waiting polls) the message was handed to. */
  readonly delivered: number;
}

/** Presence figures for `GET /online`. */
export interface OnlineStats {
  readonly uids: number;
  readonly connections: number;
  readonly online?: Record<string, number>;
}

/**
 * Owns every live connection of this process: indexes them by uid and group, replays history
 * before going live without a gap or duplicate at the seam, fans out published messages, sends
 * the shared heartbeat, closes slow and expired connections, and drains on shutdown.
 */
export class Hub {
  private readonly all = new Set<Member>();
  private readonly byUid = new Map<string, Set<Member>>();
  private readonly byGroup = new Map<string, Set<Member>>();
  private streamCount = 0;
  private pollCount = 0;
  private readonly expiries = new Map<number, Set<Member>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly expiryTimer: NodeJS.Timeout;
  /** Newest message this hub has fanned out (or the start position), for heartbeat ids. */
  private head: string | undefined;
  private headSeq = 0;
  private accepting = true;
  /** Cluster-wide presence (Redis mode); memory mode counts this hub's own indexes. */
  private readonly presence: Presence | undefined;
  /** Epoch of the newest message fanned out: a different one means history was wiped. */
  private liveEpoch: string | undefined;

  constructor(
    private readonly config: Config,
    readonly broker: Broker,
    private readonly metrics: Metrics | undefined,
    private readonly log: Logger,
  ) {
    broker.subscribe((m) => this.fanOut(m));
    const cluster = clusterAbilities(broker);
    this.presence = cluster?.presence;
    cluster?.onResync(() => this.resync());
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs);
    this.heartbeat.unref();
    this.expiryTimer = setInterval(() => this.expire(), 1000);
    this.expiryTimer.unref();
    broker.position().then(
      (p) => {
        if (this.head === undefined) this.setHead(p);
        this.liveEpoch ??= parseId(p)?.epoch;
      },
      () => {},
    );
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  get counts(): { streams: number; polls: number; uids: number } {
    return { streams: this.streamCount, polls: this.pollCount, uids: this.byUid.size };
  }

  /** Refuses a new connection for `sub` when a limit is reached; call before writing anything. */
  admit(sub: Subscriber): void {
    if (!this.accepting) throw unavailable('server is shutting down', 'shutting_down');
    if (!this.broker.healthy) throw unavailable('backend unavailable', 'backend_unavailable');
    const max = this.config.maxConnections;
    if (max > 0 && this.all.size >= max) {
      this.metrics?.rejected.inc({ limit: 'connections' });
      throw unavailable(`server holds its maximum of ${max} connections`, 'too_many_connections');
    }
    const perUid = this.config.maxConnectionsPerUid;
    if (perUid > 0 && (this.byUid.get(sub.uid)?.size ?? 0) >= perUid) {
      this.metrics?.rejected.inc({ limit: 'per_uid' });
      throw limited(`uid already has ${perUid} connections`);
    }
  }

  /**
   * Registers an SSE stream whose response head is already sent, then writes `retry:`, the
   * replay (or reset, or the bare position for a fresh connection) and goes live. Messages
   * published meanwhile are queued on the connection and written after, each once.
   */
  openStream(sub: Subscriber, sink: SseSink, resumeId: string | undefined): SseConn {
    const conn = new SseConnClass(sub, sink, (c) => this.dropSlow(c), this.config.maxBufferedBytes);
    this.add(conn);
    this.streamCount++;
    this.log.debug(
      { uid: sub.uid, groups: sub.groups.length, resume: resumeId !== undefined },
      'stream opened',
    );
    conn.write(`retry:${this.config.retryMs}\n\n`);
    this.startStream(conn, resumeId).catch((err: unknown) => {
      this.log.warn({ err }, 'stream start failed');
      this.closeStream(conn, 'client');
      sink.destroy();
    });
    return conn;
  }

  private async startStream(conn: SseConn, resumeId: string | undefined): Promise<void> {
    if (resumeId === undefined) {
      const position = await this.broker.position();
      if (conn.closed) return;
      conn.write(`id:${position}\n\n`);
      this.goLive(conn, position, parseId(position)?.seq ?? 0);
      return;
    }
    const r = await this.broker.replay(streamsOfSubscriber(conn.uid, conn.sub.groups), resumeId);
    if (conn.closed) return;
    const positionSeq = parseId(r.position)?.seq ?? 0;
    if (!r.complete) {
      this.metrics?.resets.inc({ reason: r.reason ?? 'unknown' });
      conn.write(
        `id:${r.position}\nevent:reset\ndata:${JSON.stringify({ reason: r.reason ?? 'history_lost' })}\n\n`,
      );
      this.goLive(conn, r.position, positionSeq);
      return;
    }
    if (r.messages.length > 0) {
      let chunk = '';
      for (const m of r.messages) chunk += m.frame;
      conn.writeReplay(chunk);
      this.metrics?.replayed.inc(r.messages.length);
    }
    const lastReplayed = r.messages[r.messages.length - 1]?.seq ?? 0;
    this.goLive(conn, r.position, Math.max(positionSeq, lastReplayed));
  }

  private goLive(conn: SseConn, position: string, fromSeq: number): void {
    const queued = conn.pending ?? [];
    conn.pending = null;
    conn.lastSeq = Math.max(conn.lastSeq, fromSeq);
    conn.epoch = parseId(position)?.epoch;
    const prefix = `${conn.epoch}-`;
    let delivered = 0;
    for (const m of queued) if (m.id.startsWith(prefix) && conn.deliver(m)) delivered++;
    if (delivered > 0) this.metrics?.delivered.inc(delivered);
  }

  /** Unregisters a stream (its response closed, or the hub ends it). Idempotent. */
  closeStream(conn: SseConn, reason: CloseReason = 'client'): void {
    if (conn.closed) return;
    conn.closed = true;
    this.remove(conn);
    this.streamCount--;
    if (reason !== 'client') {
      if (reason === 'slow' || reason === 'expired') conn.sink.destroy();
      else conn.sink.end();
    }
    this.log.debug({ uid: conn.uid, reason }, 'stream closed');
  }

  private dropSlow(conn: SseConn): void {
    this.metrics?.slowDropped.inc();
    this.log.info({ uid: conn.uid, buffered: conn.sink.writableLength }, 'slow client dropped');
    this.closeStream(conn, 'slow');
  }

  /**
   * Serves one long-poll. Without a cursor it answers the position at once. With one, it
   * answers retained messages after it at once, a reset when replay cannot be complete, or
   * waits up to `timeoutMs` for the next message. Returns a cancel function for a client that
   * goes away.
   */
  poll(
    sub: Subscriber,
    cursor: string | undefined,
    timeoutMs: number,
    answer: (a: PollAnswer) => void,
  ): () => void {
    const waiter = new PollConn(sub, answer, (p) => this.finishPoll(p));
    this.add(waiter);
    this.pollCount++;
    const cancel = () => this.endPoll(waiter);
    this.startPoll(waiter, cursor, timeoutMs).catch((err: unknown) => {
      this.log.warn({ err }, 'poll failed');
      // Answered like a timeout (its cursor, no messages): the client polls again, nothing is lost.
      this.finishPoll(waiter);
    });
    return cancel;
  }

  private async startPoll(w: PollConn, cursor: string | undefined, timeoutMs: number): Promise<void> {
    if (cursor === undefined) {
      // Until the position is known, a poll answered early (drain, failure) gets the newest one
      // this node has fanned out: never an empty cursor.
      w.cursor = this.head ?? '';
      const position = await this.broker.position();
      this.finishPoll(w, { messages: [], cursor: position });
      return;
    }
    w.cursor = cursor;
    const r = await this.broker.replay(streamsOfSubscriber(w.uid, w.sub.groups), cursor);
    if (w.closed) return;
    if (!r.complete) {
      this.metrics?.resets.inc({ reason: r.reason ?? 'unknown' });
      this.finishPoll(w, { messages: [], cursor: r.position, reset: true });
      return;
    }
    if (r.messages.length > 0) {
      const messages = r.messages.slice(0, POLL_BATCH_MAX);
      this.metrics?.replayed.inc(messages.length);
      this.finishPoll(w, { messages, cursor: messages[messages.length - 1]!.id });
      return;
    }
    const positionSeq = parseId(r.position)?.seq ?? 0;
    w.goLive(r.position, positionSeq);
    w.timer = setTimeout(() => this.finishPoll(w), timeoutMs);
    w.timer.unref();
  }

  private finishPoll(w: PollConn, a?: PollAnswer): void {
    if (w.closed) return;
    this.remove(w);
    this.pollCount--;
    const n = w.respond(a);
    if (!a && n > 0) this.metrics?.delivered.inc(n);
  }

  private endPoll(w: PollConn): void {
    if (w.closed) return;
    w.closed = true;
    if (w.timer) clearTimeout(w.timer);
    this.remove(w);
    this.pollCount--;
  }

  /** Publishes validated messages in order and reports, per message, who was reached. */
  async publish(inputs: readonly PublishInput[]): Promise<PushResult[]> {
    this.checkPublish();
    return this.report(await this.broker.publish(inputs));
  }

  /**
   * Publishes unless `once.key` is already recorded, the look-up and the publish being one atomic
   * broker step (issue 17; brokers with the `OnceBroker` ability, i.e. Redis).
   */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<PushResult[]>> {
    this.checkPublish();
    const b = this.broker as Broker & Partial<OnceBroker>;
    if (!b.publishOnce) throw new Error('this broker cannot publish with an idempotency key');
    const r = await b.publishOnce(inputs, once);
    return r.kind === 'recorded' ? r : { kind: 'published', value: await this.report(r.value) };
  }

  private checkPublish(): void {
    if (!this.accepting) throw unavailable('server is shutting down', 'shutting_down');
    if (!this.broker.healthy) throw unavailable('backend unavailable', 'backend_unavailable');
  }

  /** Counts, per message the broker just stored, who was reached. */
  private async report(messages: Message[]): Promise<PushResult[]> {
    this.metrics?.published.inc(messages.length);
    const local = () => messages.map((m) => this.reach(m));
    // The messages are accepted at this point: a failed presence read must not turn into an error.
    const counts = this.presence ? await this.presence.reach(messages).catch(local) : local();
    return messages.map((m, i) => {
      const delivered = counts[i]!;
      return { id: m.id, online: delivered > 0, delivered };
    });
  }

  /** Presence across the deployment (`GET /online`): the cluster in Redis mode, else `online`. */
  async clusterOnline(uids?: readonly string[]): Promise<OnlineStats> {
    return this.presence ? this.presence.online(uids) : this.online(uids);
  }

  /** Connections of this process addressed by `t`, each counted once. */
  reach(t: Targets): number {
    if (t.to.length === 0 && t.groups.length === 0) return this.all.size;
    if (t.groups.length === 0) {
      let n = 0;
      for (const uid of t.to) n += this.byUid.get(uid)?.size ?? 0;
      return n;
    }
    const seen = new Set<Member>();
    for (const uid of t.to) for (const c of this.byUid.get(uid) ?? []) seen.add(c);
    for (const g of t.groups) for (const c of this.byGroup.get(g) ?? []) seen.add(c);
    return seen.size;
  }

  /** Presence on this process: distinct uids, connections, and per-uid counts when asked. */
  online(uids?: readonly string[]): OnlineStats {
    const stats: OnlineStats = { uids: this.byUid.size, connections: this.all.size };
    if (!uids) return stats;
    const online: Record<string, number> = {};
    for (const u of uids) online[u] = this.byUid.get(u)?.size ?? 0;
    return { ...stats, online };
  }

  private fanOut(m: Message): void {
    const epoch = parseId(m.id)?.epoch;
    if (this.liveEpoch !== undefined && epoch !== this.liveEpoch) this.epochChanged(m);
    this.liveEpoch = epoch;
    this.setHead(m.id, m.seq);
    let n = 0;
    // Deliveries are counted where they leave: here for live streams, and for messages queued
    // during a replay or batched for a poll when those are flushed (goLive, finishPoll).
    const give = (c: Member): void => {
      // A member already living in a newer epoch (its reset came from the wiped backend before
      // this node saw the new epoch) never takes a late message of the old one.
      if (c.epoch !== undefined && c.epoch !== epoch) return;
      if (c.deliver(m) && c instanceof SseConnClass && c.pending === null) n++;
    };
    if (m.to.length === 0 && m.groups.length === 0) {
      for (const c of this.all) give(c);
    } else {
      for (const uid of m.to) for (const c of this.byUid.get(uid) ?? []) give(c);
      for (const g of m.groups) for (const c of this.byGroup.get(g) ?? []) give(c);
    }
    if (n > 0) this.metrics?.delivered.inc(n);
  }

  private setHead(id: string, seq = parseId(id)?.seq ?? 0): void {
    if (this.head !== undefined && seq <= this.headSeq && parseId(this.head)?.epoch === parseId(id)?.epoch)
      return;
    this.head = id;
    this.headSeq = seq;
  }

  /**
   * The backend's history was wiped (a flushed Redis) while connections were live: their seq
   * positions belong to the old epoch. Each live stream gets a `reset` at the new position just
   * before `m` and continues from there; streams still replaying and waiting polls are ended so
   * they resume (and get their reset) against the new epoch.
   */
  private epochChanged(m: Message): void {
    const epoch = parseId(m.id)?.epoch;
    const position = formatId(epoch ?? '', m.seq - 1);
    this.log.warn({ position }, 'history epoch changed; live connections reset');
    const reset = `id:${position}\nevent:reset\ndata:{"reason":"epoch_changed"}\n\n`;
    for (const c of [...this.all]) {
      // Went live in the new epoch already (its replay or reset came from the wiped backend):
      // it has its reset and its position; another would be needless and move it backwards.
      if (c.pending === null && c.epoch === epoch) continue;
      if (c instanceof SseConnClass) {
        if (c.pending !== null) {
          this.closeStream(c, 'shutdown');
          continue;
        }
        this.metrics?.resets.inc({ reason: 'epoch_changed' });
        c.write(reset);
        c.lastSeq = m.seq - 1;
        c.epoch = epoch;
      } else if (c instanceof PollConn) {
        // Old-epoch messages already batched are answered first; the next poll gets the reset.
        if (c.batched > 0) this.finishPoll(c);
        else this.finishPoll(c, { messages: [], cursor: position, reset: true });
      }
    }
  }

  /**
   * Live fan-out may have missed messages (the broker's subscription was re-established after
   * an outage): streams end so their clients reconnect and replay from their last id; waiting
   * polls answer what they have, and the next poll replays.
   */
  private resync(): void {
    this.log.info({ connections: this.all.size }, 'fan-out resync: ending live connections');
    for (const c of [...this.all]) {
      if (c instanceof SseConnClass) this.closeStream(c, 'shutdown');
      else if (c instanceof PollConn && c.cursor !== '') this.finishPoll(c);
    }
  }

  /**
   * One timer for all streams. Live streams also get the newest position as a bare `id:`: they
   * have received everything up to it, and a later resume from there needs less history.
   */
  private beat(): void {
    const frame = this.head ? `:\nid:${this.head}\n\n` : ':\n\n';
    const headEpoch = this.head ? parseId(this.head)?.epoch : undefined;
    for (const c of this.all) {
      if (!(c instanceof SseConnClass) || c.pending !== null) continue;
      // A stream that went live past the head (its position came from a shared backend ahead
      // of this node's fan-out) must not be moved back: its resume would replay duplicates.
      // Nor may a stream living in a newer epoch than the head be told an old-epoch id.
      if (c.lastSeq <= this.headSeq && c.epoch === headEpoch) c.write(frame);
      else c.write(':\n\n');
    }
  }

  private add(c: Member): void {
    this.all.add(c);
    this.presence?.add(c.uid, c.sub.groups);
    addTo(this.byUid, c.uid, c);
    for (const g of c.sub.groups) addTo(this.byGroup, g, c);
    const exp = c.sub.expiresAt;
    if (exp !== undefined) addTo(this.expiries, Math.ceil(exp / 1000), c);
  }

  private remove(c: Member): void {
    if (!this.all.delete(c)) return;
    this.presence?.remove(c.uid, c.sub.groups);
    removeFrom(this.byUid, c.uid, c);
    for (const g of c.sub.groups) removeFrom(this.byGroup, g, c);
    const exp = c.sub.expiresAt;
    if (exp !== undefined) removeFrom(this.expiries, Math.ceil(exp / 1000), c);
  }

  /** Ends streams whose token has expired; the client reconnects with a fresh token. */
  private expire(): void {
    if (this.expiries.size === 0) return;
    const nowSec = Math.floor(Date.now() / 1000);
    for (const [sec, set] of this.expiries) {
      if (sec > nowSec) continue;
      for (const c of [...set]) {
        if (c instanceof SseConnClass) this.closeStream(c, 'expired');
        else if (c instanceof PollConn) this.finishPoll(c);
      }
      this.expiries.delete(sec);
    }
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
    for (const c of [...this.all]) {
      if (c instanceof SseConnClass) this.closeStream(c, 'shutdown');
      else if (c instanceof PollConn) this.finishPoll(c);
    }
  }

  async close(): Promise<void> {
    this.drain();
    await this.broker.close();
  }
}

function addTo<K>(map: Map<K, Set<Member>>, key: K, c: Member): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(c);
}

function removeFrom<K>(map: Map<K, Set<Member>>, key: K, c: Member): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(c);
  if (set.size === 0) map.delete(key);
}
