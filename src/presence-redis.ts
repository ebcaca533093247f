import { randomBytes } from 'node:crypto';
import { unavailable } from './errors.js';
import type { Logger } from './logger.js';
import { groupStream, type Targets, uidStream } from './message.js';
import { keyBytes } from './names.js';
import type { GroupStats, OnlineStats, Presence, UidPage, UidPageQuery } from './presence.js';
import type { RedisClient } from './redis-connect.js';
import { redisErrorLog } from './redis-log.js';
import { PRESENCE_LUA, Script } from './redis-scripts.js';

/** How often local changes are written to Redis, at most (connect/disconnect converge within it). */
export const PRESENCE_FLUSH_MS = 250;
/** How often a node proves it is alive even without changes. */
export const PRESENCE_HEARTBEAT_MS = 5000;
/** A node silent this long is dead: any live node removes its connections from the totals. */
export const PRESENCE_DEAD_MS = 15_000;
/** Fields per script call when a whole snapshot is written. */
const CHUNK = 1000;

const presenceScript = new Script(PRESENCE_LUA);

/**
 * The field counting `uid`'s connections in `group`: names hold no control character, so the
 * newline cannot be part of either (the presence script splits there).
 */
export const memberField = (group: string, uid: string) => `m:${group}\n${uid}`;

/** `prefix` followed by a name's bytes (see `keyBytes`). */
function keyOf(prefix: string, name: string): string | Buffer {
  const b = keyBytes(name);
  return typeof b === 'string' ? prefix + b : Buffer.concat([Buffer.from(prefix), b]);
}

export interface RedisPresenceOptions {
  readonly client: RedisClient;
  readonly prefix: string;
  readonly log?: Logger | undefined;
  /** See `PRESENCE_DEAD_MS`. */
  readonly deadMs?: number;
  /** Record presence webhook transitions (`WEBHOOK_URL` set): the offline grace and queue bound. */
  readonly webhook?: { readonly graceMs: number; readonly queueMax: number } | undefined;
}

/**
 * Cluster-wide presence. Each node keeps its counts per stream key (`u:<uid>`, `g:<group>`) in
 * memory and writes changed counts to its own Redis hash every `PRESENCE_FLUSH_MS`; a Lua
 * script keeps the cluster totals (`pres` hash, distinct `uids`, `conns`) in step with every
 * node hash. A node that stops heart-beating for `PRESENCE_DEAD_MS` is declared dead by the next
 * live node's write, and its counts are subtracted a bounded number per script call (no call
 * runs long, whatever a dead node held). A node declared dead while merely stalled notices at
 * its next write and joins again under a new id with all its counts.
 *
 * Exactness: per-uid counts, distinct uids and total connections are exact (up to the flush
 * delay of other nodes; this node's own changes count at once). Per group, connections are exact
 * the same way; distinct uids (`gon:<group>` sorted set, from the per-group-and-uid `m:` fields)
 * and the uid pages (`on`, `gon:<group>`) are exact once every node's changes are written,
 * this node's included (within `PRESENCE_FLUSH_MS`). A push to several targets counts
 * a connection that matches two of them twice (upper bound, capped at total connections): the
 * nodes do not share connection identities.
 */
export class RedisPresence implements Presence {
  /** This node's id in Redis; a new one after it was declared dead (or Redis lost its data). */
  private nodeId = '';
  private readonly local = new Map<string, number>();
  /** What Redis holds for this node, per field, as of the last successful write. */
  private readonly flushed = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private localConns = 0;
  private flushedConns = 0;
  /** Next write joins under a new id and writes every count (start, declared dead, Redis wiped). */
  private full = true;
  private lastWrite = 0;
  private writing = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly deadMs: number;
  /** At least three heartbeats per `deadMs`, so a live node is never taken for dead. */
  private readonly heartbeatMs: number;
  /** The key the presence script declares (routing on cluster-mode Redis). */
  private readonly key: string;
  /** Webhook events this node's script calls queued and dropped since `takeWebhookCounts`. */
  private readonly webhookCounts = { queued: 0, dropped: 0 };

  constructor(private readonly opts: RedisPresenceOptions) {
    this.key = `${opts.prefix}pres`;
    this.deadMs = opts.deadMs ?? PRESENCE_DEAD_MS;
    this.heartbeatMs = Math.min(PRESENCE_HEARTBEAT_MS, this.deadMs / 3);
    this.timer = setInterval(() => void this.tick(), PRESENCE_FLUSH_MS);
    this.timer.unref();
  }

  add(uid: string, groups: readonly string[]): void {
    this.localConns++;
    this.bump(uidStream(uid), 1);
    this.regroup(uid, groups, []);
  }

  remove(uid: string, groups: readonly string[]): void {
    this.localConns--;
    this.bump(uidStream(uid), -1);
    this.regroup(uid, [], groups);
  }

  /** Group fields: connections per group (`g:`), and per group and uid (`m:`, for distinct uids). */
  regroup(uid: string, added: readonly string[], removed: readonly string[]): void {
    for (const g of added) {
      this.bump(groupStream(g), 1);
      this.bump(memberField(g, uid), 1);
    }
    for (const g of removed) {
      this.bump(groupStream(g), -1);
      this.bump(memberField(g, uid), -1);
    }
  }

  /**
   * Exclusions: an excluded uid's connections are subtracted where the counts prove them
   * addressed (a broadcast, a `to` naming it); with groups the figure is also capped at all
   * connections minus the excluded ones, but an excluded uid's connections in an addressed group
   * may still be counted (this backend does not know which groups a uid's connections are in).
   */
  async reach(targets: readonly Targets[]): Promise<number[]> {
    const fields = new Set<string>();
    for (const t of targets) {
      for (const u of t.to) fields.add(uidStream(u));
      for (const g of t.groups) fields.add(groupStream(g));
      for (const u of t.exclude ?? []) fields.add(uidStream(u));
    }
    const list = [...fields];
    const [counts, conns] = await this.read(list);
    const byField = new Map<string, number>(list.map((f, i) => [f, counts[i]!]));
    const count = (f: string) => byField.get(f) ?? 0;
    return targets.map((t) => {
      const out = new Set(t.exclude);
      let excluded = 0;
      for (const u of out) excluded += count(uidStream(u));
      const cap = Math.max(0, conns - excluded);
      if (t.to.length === 0 && t.groups.length === 0) return cap;
      let n = 0;
      for (const u of t.to) if (!out.has(u)) n += count(uidStream(u));
      for (const g of t.groups) n += count(groupStream(g));
      return Math.min(n, cap);
    });
  }

  async online(uids?: readonly string[], groups?: readonly string[]): Promise<OnlineStats> {
    const u = uids ?? [];
    const g = groups ?? [];
    const p = this.opts.prefix;
    const [counts, conns, distinct, cards] = await this.read(
      [...u.map(uidStream), ...g.map(groupStream)],
      g.map((name) => keyOf(`${p}gon:`, name)),
    );
    let stats: OnlineStats = { uids: distinct, connections: conns };
    if (uids) {
      const online: Record<string, number> = Object.create(null);
      u.forEach((name, i) => {
        online[name] = counts[i]!;
      });
      stats = { ...stats, online };
    }
    if (groups) {
      const byGroup: Record<string, GroupStats> = Object.create(null);
      g.forEach((name, i) => {
        byGroup[name] = { uids: cards[i]!, connections: counts[u.length + i]! };
      });
      stats = { ...stats, groups: byGroup };
    }
    return stats;
  }

  /**
   * A page of the sorted sets the presence script keeps (`on`: every online uid; `gon:<group>`:
   * the uids with a connection in the group), by byte order from the uid after `q.after`.
   */
  async uids(q: UidPageQuery): Promise<UidPage> {
    const p = this.opts.prefix;
    const key = q.group === undefined ? `${p}on` : keyOf(`${p}gon:`, q.group);
    const min = q.after === undefined ? '-' : keyOf('(', q.after);
    let list: string[];
    try {
      list = await this.opts.client.zrangebylex(key, min, '+', 'LIMIT', 0, q.limit + 1);
    } catch {
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
    const more = list.length > q.limit;
    if (more) list.pop();
    return { uids: list, next: more ? list[list.length - 1] : undefined };
  }

  /**
   * How many webhook events (online transitions) this node's presence writes queued since the
   * last call, and how many of the oldest the queue bound dropped for them: the script records
   * transitions as it counts, so exactly one node counts each.
   */
  takeWebhookCounts(): { queued: number; dropped: number } {
    const n = { ...this.webhookCounts };
    this.webhookCounts.queued = 0;
    this.webhookCounts.dropped = 0;
    return n;
  }

  /**
   * A clean shutdown: writes the last changes (the hub has closed its connections, so counts go
   * to zero), leaves, and stops writing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (let i = 0; this.writing && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    if (this.opts.client.status !== 'ready' || this.full) return;
    try {
      await this.write();
      await this.run('leave', []);
    } catch {
      // Unreachable: the other nodes declare this one dead after PRESENCE_DEAD_MS.
    }
  }

  /**
   * Cluster counts for `fields`, total connections, distinct uids (with this node's unwritten
   * changes applied to the counts and connections) and the size of each sorted set of `cards`.
   */
  private async read(
    fields: readonly string[],
    cards: readonly (string | Buffer)[] = [],
  ): Promise<[number[], number, number, number[]]> {
    const p = this.opts.prefix;
    let r: [Error | null, unknown][] | null;
    try {
      const pipe = this.opts.client.pipeline();
      if (fields.length > 0) pipe.hmget(`${p}pres`, ...fields.map(keyBytes));
      pipe.get(`${p}conns`).get(`${p}uids`);
      for (const k of cards) pipe.zcard(k);
      r = await pipe.exec();
    } catch {
      r = null;
    }
    if (!r || r.some(([err]) => err)) throw unavailable('backend unavailable', 'backend_unavailable');
    const values = fields.length > 0 ? (r[0]![1] as (string | null)[]) : [];
    const counts = fields.map((f, i) => {
      const n = Number(values[i] ?? 0) - (this.flushed.get(f) ?? 0) + (this.local.get(f) ?? 0);
      return Math.max(0, n);
    });
    const off = fields.length > 0 ? 1 : 0;
    const conns = Math.max(0, Number(r[off]![1] ?? 0) - this.flushedConns + this.localConns);
    const distinct = Math.max(0, Number(r[off + 1]![1] ?? 0));
    const sizes = cards.map((_k, i) => Number(r[off + 2 + i]![1] ?? 0));
    return [counts, conns, distinct, sizes];
  }

  private setFlushed(field: string, n: number): void {
    if (field.startsWith('u:')) this.flushedConns += n - (this.flushed.get(field) ?? 0);
    if (n > 0) this.flushed.set(field, n);
    else this.flushed.delete(field);
  }

  private bump(field: string, d: number): void {
    const n = (this.local.get(field) ?? 0) + d;
    if (n > 0) this.local.set(field, n);
    else this.local.delete(field);
    this.dirty.add(field);
  }

  /** Script arguments; field names go as their WTF-8 bytes, so no two names share a field. */
  private args(
    mode: 'join' | 'delta' | 'leave',
    pairs: readonly (string | number)[],
  ): (string | number | Buffer)[] {
    return [
      this.opts.prefix,
      this.nodeId,
      this.deadMs,
      mode,
      this.opts.webhook ? this.opts.webhook.graceMs : -1,
      this.opts.webhook ? this.opts.webhook.queueMax : 0,
      ...pairs.map((v) => (typeof v === 'string' ? keyBytes(v) : v)),
    ];
  }

  /** One presence script call; false when the node is not registered (see PRESENCE_LUA). */
  private async run(mode: 'join' | 'delta' | 'leave', pairs: readonly (string | number)[]): Promise<boolean> {
    const r = await presenceScript.run(this.opts.client, this.key, this.args(mode, pairs));
    const [known, queued, dropped] = Array.isArray(r) ? r : [];
    this.webhookCounts.queued += Number(queued ?? 0);
    this.webhookCounts.dropped += Number(dropped ?? 0);
    return Number(known) !== 0;
  }

  private async tick(): Promise<void> {
    if (this.writing || this.closed || this.opts.client.status !== 'ready') return;
    const due = Date.now() - this.lastWrite >= this.heartbeatMs;
    if (!this.full && this.dirty.size === 0 && !due) return;
    this.writing = true;
    try {
      await this.write();
      this.lastWrite = Date.now();
    } catch (err) {
      this.opts.log?.debug({ err: redisErrorLog(err) }, 'presence write failed; retrying');
    } finally {
      this.writing = false;
    }
  }

  private async write(): Promise<void> {
    if (this.full) {
      // A fresh id has nothing to undo: whatever an old id still holds is subtracted by the
      // reaper, a bounded amount per call, and this node's counts go in as plain deltas.
      this.nodeId = randomBytes(8).toString('hex');
      this.dirty.clear();
      for (const f of this.local.keys()) this.dirty.add(f);
      this.flushed.clear();
      this.flushedConns = 0;
      await this.run('join', []);
      this.full = false;
    }
    const fields = [...this.dirty];
    this.dirty.clear();
    try {
      for (let i = 0; i === 0 || i < fields.length; i += CHUNK) {
        const chunk = fields.slice(i, i + CHUNK).map((f) => [f, this.local.get(f) ?? 0] as const);
        if (!(await this.run('delta', chunk.flat()))) {
          // Declared dead while unreachable or stalled, or Redis lost its data: join again.
          this.full = true;
          return;
        }
        for (const [f, n] of chunk) this.setFlushed(f, n);
      }
    } catch (err) {
      for (const f of fields) this.dirty.add(f);
      throw err;
    }
  }
}
