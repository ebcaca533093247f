import type { Control, NoticeCommand } from './control.js';
import { controlChannel } from './control-redis.js';
import {
  type DisconnectNotice,
  type DisconnectNoticeOptions,
  type DisconnectNotices,
  NOTICE_SWEEP_MS,
  type NoticeInput,
  NoticeTable,
  noticeOf,
} from './disconnect-notices.js';
import { closedError, unavailable } from './errors.js';
import type { Logger } from './logger.js';
import type { RedisClient } from './redis-connect.js';
import { redisErrorLog } from './redis-log.js';
import { Script } from './redis-scripts.js';

/**
 * Records one call's notices. Keys: `P dn` hash uid -> notice JSON, `P dnidx` sorted set uid ->
 * expiry (ms, Redis clock), both expiring with their newest entry. Prunes at most 1000 expired
 * uids, records every uid, forgets the oldest past `max`, and publishes the `notice` command on
 * the control channel in the same step, so no node sees one without the other.
 * ARGV: prefix, control channel, ttlMs, max, notice JSON, command JSON, uid_1..uid_n.
 */
const RECORD_LUA = `
local P = ARGV[1]
local ttl = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local h, idx = P .. 'dn', P .. 'dnidx'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local old = redis.call('ZRANGEBYSCORE', idx, '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then
  redis.call('ZREM', idx, unpack(old))
  redis.call('HDEL', h, unpack(old))
end
for i = 7, #ARGV do
  redis.call('HSET', h, ARGV[i], ARGV[5])
  redis.call('ZADD', idx, now + ttl, ARGV[i])
end
local over = redis.call('ZCARD', idx) - max
if over > 0 then
  local gone = redis.call('ZPOPMIN', idx, over)
  for i = 1, #gone, 2 do redis.call('HDEL', h, gone[i]) end
end
redis.call('PEXPIRE', h, ttl)
redis.call('PEXPIRE', idx, ttl)
redis.call('PUBLISH', ARGV[2], ARGV[6])
return 1
`;
const recordScript = new Script(RECORD_LUA);

/** A notice as `P dn` keeps it. */
interface Stored {
  readonly r: string;
  readonly c: boolean;
  readonly a: number;
  readonly p: string;
}

export interface RedisDisconnectNoticesOptions extends DisconnectNoticeOptions {
  readonly client: RedisClient;
  /** The Redis control channel: notices of other nodes arrive on it. */
  readonly control: Control;
  readonly prefix: string;
  readonly log?: Logger | undefined;
}

/**
 * Notices shared by every node: `P dn`/`P dnidx` are the truth (bounded by `max`, each entry
 * expiring `ttlSec` after it was recorded); every node answers `find` from a local mirror fed by
 * the `notice` commands the record script publishes, loaded at start and reloaded whenever the
 * control channel may have missed some. A notice is best effort by nature (a client between polls
 * longer than the window is not told either), so a node that has not loaded yet answers "none"
 * rather than refusing polls.
 */
export class RedisDisconnectNotices implements DisconnectNotices {
  private readonly table: NoticeTable;
  private readonly sweeper: NodeJS.Timeout;
  private loading = false;
  private closed = false;

  constructor(private readonly opts: RedisDisconnectNoticesOptions) {
    this.table = new NoticeTable(opts.max);
    opts.control.listen((cmd) => {
      if (cmd.op === 'notice') this.mirror(cmd, Date.now() + opts.ttlSec * 1000);
    });
    opts.control.onGap(() => void this.reload());
    this.sweeper = setInterval(() => this.table.sweep(Date.now()), NOTICE_SWEEP_MS);
    this.sweeper.unref();
  }

  async record(n: NoticeInput): Promise<void> {
    if (this.closed) throw closedError('disconnect notices');
    const { ttlSec, max, prefix, client } = this.opts;
    if (ttlSec <= 0) return;
    const cmd: NoticeCommand = {
      op: 'notice',
      uids: [...new Set(n.uids)],
      reason: n.reason,
      reconnect: n.reconnect,
      at: n.atSec,
      position: n.position,
    };
    const stored: Stored = { r: n.reason, c: n.reconnect, a: n.atSec, p: n.position };
    const args = [
      prefix,
      controlChannel(prefix),
      ttlSec * 1000,
      max,
      JSON.stringify(stored),
      JSON.stringify(cmd),
      ...cmd.uids,
    ];
    try {
      await recordScript.run(client, `${prefix}dn`, args);
    } catch (err) {
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'disconnect notice failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
    // This node knows at once, before its own command comes back from the channel.
    this.mirror(cmd, Date.now() + ttlSec * 1000);
  }

  find(uid: string): DisconnectNotice | undefined {
    return this.table.find(uid, Date.now());
  }

  /**
   * Reads every live notice into the mirror, oldest first. Call once the control channel is
   * subscribed, so nothing published meanwhile is missed (a notice read twice is the same notice).
   */
  async load(): Promise<void> {
    if (this.closed) throw closedError('disconnect notices');
    if (this.opts.ttlSec <= 0) return;
    const { client, prefix } = this.opts;
    try {
      const idx = await client.zrangebyscore(`${prefix}dnidx`, `(${Date.now()}`, '+inf', 'WITHSCORES');
      for (let i = 0; i < idx.length; i += 2000) {
        const uids: string[] = [];
        const until: number[] = [];
        for (let j = i; j + 1 < idx.length && j < i + 2000; j += 2) {
          uids.push(idx[j]!);
          until.push(Number(idx[j + 1]));
        }
        const values = await client.hmget(`${prefix}dn`, ...uids);
        values.forEach((v, k) => {
          const s = v === null ? undefined : parseStored(v);
          if (s)
            this.table.set(
              uids[k]!,
              noticeOf({ reason: s.r, reconnect: s.c, atSec: s.a, position: s.p }, until[k]!),
            );
        });
      }
    } catch (err) {
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'disconnect notices load failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
  }

  /** Loads until it succeeds (or the store closes), a second apart; one loop at a time. */
  private async reload(): Promise<void> {
    if (this.loading) return;
    this.loading = true;
    try {
      while (!this.closed) {
        try {
          await this.load();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 1000).unref());
        }
      }
    } finally {
      this.loading = false;
    }
  }

  private mirror(cmd: NoticeCommand, until: number): void {
    const notice = noticeOf(
      { reason: cmd.reason, reconnect: cmd.reconnect, atSec: cmd.at, position: cmd.position },
      until,
    );
    for (const u of cmd.uids) this.table.set(u, notice);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.table.clear();
  }
}

/** A stored notice, or `undefined` for anything else found under the key. */
function parseStored(text: string): Stored | undefined {
  try {
    const v = JSON.parse(text) as Partial<Stored> | null;
    if (
      v &&
      typeof v.r === 'string' &&
      typeof v.c === 'boolean' &&
      typeof v.a === 'number' &&
      typeof v.p === 'string'
    )
      return { r: v.r, c: v.c, a: v.a, p: v.p };
  } catch {}
  return undefined;
}
