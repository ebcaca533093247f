import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Control } from './control.js';
import { controlChannel } from './control-redis.js';
import { closedError, unavailable } from './errors.js';
import type { Logger } from './logger.js';
import { redisErrorLog } from './redis-log.js';
import {
  nowSec,
  REVOCATION_SWEEP_MS,
  type RevocationOptions,
  type Revocations,
  RevocationTable,
  tooManyRevocations,
} from './revocations.js';

/**
 * KEYS[1]: the sorted set. ARGV: channel, nowSec, ttlSec, max, command JSON, uid_1..uid_n
 * (distinct). Its one key is declared, so it runs on cluster-mode Redis too. Forgets
 * expired entries, refuses (0) when the new uids would pass `max`, else records `now` for each
 * uid (a later revocation held wins), keeps the key TTL after its newest entry, and publishes the
 * command on the control channel in the same step, so no node can see one without the other.
 */
const REVOKE_LUA = `
local key = KEYS[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
local fresh = 0
for i = 6, #ARGV do
  if not redis.call('ZSCORE', key, ARGV[i]) then fresh = fresh + 1 end
end
if redis.call('ZCARD', key) + fresh > max then return 0 end
for i = 6, #ARGV do
  local old = redis.call('ZSCORE', key, ARGV[i])
  if not old or tonumber(old) < now then redis.call('ZADD', key, now, ARGV[i]) end
end
redis.call('EXPIRE', key, ttl)
redis.call('PUBLISH', ARGV[1], ARGV[5])
return 1
`;
const REVOKE_SHA = createHash('sha1').update(REVOKE_LUA).digest('hex');

/** A plain Redis or a cluster-mode one: both take these commands. */
export type RedisCommands = Redis | Cluster;

/** Runs the revoke script by SHA, loading it when Redis does not know it (restart, flush). */
async function runRevoke(client: RedisCommands, key: string, args: (string | number)[]): Promise<unknown> {
  try {
    return await client.call('EVALSHA', [REVOKE_SHA, 1, key, ...args]);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.call('EVAL', [REVOKE_LUA, 1, key, ...args]);
  }
}

export interface RedisRevocationsOptions extends RevocationOptions {
  readonly client: RedisCommands;
  /** The Redis control channel: revocations of other nodes arrive on it. */
  readonly control: Control;
  readonly prefix: string;
  readonly log?: Logger | undefined;
}

/**
 * Revocations shared by every node: the sorted set `<prefix>revoked` (uid -> second of its newest
 * revocation, bounded by `max`, expiring `ttlSec` after its newest entry) is the truth; every node
 * keeps a local mirror it answers `isRevoked` from synchronously, loaded at start (so a restarted
 * node refuses too), fed by the `revoke` commands the script publishes on the control channel, and
 * reloaded whenever that channel may have missed some.
 */
export class RedisRevocations implements Revocations {
  private readonly table: RevocationTable;
  private readonly key: string;
  private readonly sweeper: NodeJS.Timeout;
  private loaded = false;
  /**
   * Whether the control channel is heard (true until it is first lost: `load` is called once it
   * is subscribed), and how many times it was lost: a load that overlaps a loss proves nothing.
   */
  private listening = true;
  private losses = 0;
  private closed = false;
  /** Connects waiting for a reload (see `loading`). */
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: RedisRevocationsOptions) {
    this.table = new RevocationTable(opts.ttlSec);
    this.key = `${opts.prefix}revoked`;
    opts.control.listen((cmd) => {
      if (cmd.op !== 'revoke') return;
      for (const u of cmd.uids) this.table.set(u, cmd.at);
    });
    // From the moment the channel is lost, revocations sent by other nodes are missed: the mirror
    // is incomplete at once, not only once the channel is back. Left `loaded` until the gap, a
    // node whose fan-out channel was resubscribed first looked healthy (and let connects check a
    // stale mirror) for the moment before the control channel followed and the reload began.
    opts.control.onLost(() => {
      this.listening = false;
      this.losses++;
      this.loaded = false;
    });
    // Heard again: connects wait (503) for a reload of what was missed.
    opts.control.onGap(() => {
      this.listening = true;
      this.loaded = false;
      void this.reload();
    });
    this.sweeper = setInterval(() => this.table.sweep(nowSec()), REVOCATION_SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Reads every live revocation into the mirror. Call once the control channel is subscribed, so
   * nothing published meanwhile is missed (entries only grow, so the order of the two is free).
   */
  async load(): Promise<void> {
    if (this.closed) throw closedError('revocations');
    const now = nowSec();
    const losses = this.losses;
    let r: string[];
    try {
      r = await this.opts.client.zrangebyscore(this.key, `(${now - this.opts.ttlSec}`, '+inf', 'WITHSCORES');
    } catch (err) {
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'revocations load failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
    // Read while the channel was down: entries are kept (they are true), completeness is not.
    const complete = this.listening && losses === this.losses;
    for (let i = 0; i + 1 < r.length; i += 2) this.table.set(r[i]!, Number(r[i + 1]));
    if (!complete) throw unavailable('the control channel was lost while loading', 'backend_unavailable');
    this.loaded = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Only a reload in progress is waited for: while the control channel is down there is none
   * (connects are refused at once, as before the loss marked the mirror incomplete).
   */
  loading(timeoutMs: number): Promise<void> | undefined {
    if (this.loaded || this.closed || !this.listening) return undefined;
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, timeoutMs).unref();
    });
  }

  /**
   * Loads until it succeeds (or the store closes): soon after a blip (the subscriber connection
   * may be back before the command connection), then up to a quarter of a second apart.
   */
  private async reload(): Promise<void> {
    // A loss stops it: the gap that follows starts a new one.
    for (let attempt = 1; !this.closed && !this.loaded && this.listening; attempt++) {
      try {
        await this.load();
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(250, 50 * attempt)).unref());
      }
    }
  }

  async revoke(uids: readonly string[], atSec: number): Promise<void> {
    if (this.closed) throw closedError('revocations');
    const unique = [...new Set(uids)];
    const cmd = JSON.stringify({ op: 'revoke', uids: unique, at: atSec });
    const { ttlSec, max, prefix } = this.opts;
    let ok: unknown;
    try {
      ok = await runRevoke(this.opts.client, this.key, [
        controlChannel(prefix),
        atSec,
        ttlSec,
        max,
        cmd,
        ...unique,
      ]);
    } catch (err) {
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'revoke failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
    if (Number(ok) !== 1) throw tooManyRevocations(max);
    // This node refuses at once, before its own command comes back from the channel.
    for (const u of unique) this.table.set(u, atSec);
  }

  /** Whether the mirror is complete: connects are refused (503) until it is. */
  get ready(): boolean {
    return this.loaded && !this.closed;
  }

  isRevoked(uid: string, iat: number | undefined): boolean {
    if (!this.loaded) throw unavailable('revocations are still loading', 'backend_unavailable');
    return this.table.isRevoked(uid, iat, nowSec());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) w();
  }
}
