import { randomBytes } from 'node:crypto';
import { closedError, unavailable } from './errors.js';
import type { Logger } from './logger.js';
import { keyBytes } from './names.js';
import type { RedisClient } from './redis-connect.js';
import { redisErrorLog } from './redis-log.js';
import { Script } from './redis-scripts.js';
import type {
  GroupChange,
  GroupChangeListener,
  RuntimeDelta,
  RuntimeGroups,
  RuntimeGroupsOptions,
} from './runtime-groups.js';
import { full, tooMany } from './runtime-groups-memory.js';

/** Longest wait for a change to come back on this node's subscription before answering anyway. */
export const ECHO_TIMEOUT_MS = 2000;

/**
 * One change, whole or nothing. Keys: `P rg:<uid>` hash (`j:<group>` joined, `l:<group>` left;
 * expires `ttl` ms after the uid's last change), `P rgidx` sorted set uid -> expiry (ms): the
 * count of uids kept, pruned of expired uids at most 1000 per call.
 * ARGV: prefix, ttlMs, maxUids, maxGroupsPerUid, payload, nJoin, join..., nLeave, leave..., uids...
 * Returns `{'ok'}`, `{'many', uid}` or `{'full'}`; on `ok` the payload went out on `P groups`,
 * inside the script, so every node sees the changes in the order they were applied.
 */
const CHANGE_LUA = `
local P = ARGV[1]
local ttl = tonumber(ARGV[2])
local maxUids = tonumber(ARGV[3])
local maxGroups = tonumber(ARGV[4])
local payload = ARGV[5]
local nJoin = tonumber(ARGV[6])
local join = {}
for i = 1, nJoin do join[i] = ARGV[6 + i] end
local nLeave = tonumber(ARGV[7 + nJoin])
local leave = {}
for i = 1, nLeave do leave[i] = ARGV[7 + nJoin + i] end
local first = 8 + nJoin + nLeave
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idx = P .. 'rgidx'
local old = redis.call('ZRANGEBYSCORE', idx, '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then redis.call('ZREM', idx, unpack(old)) end
local added = 0
for u = first, #ARGV do
  local uid = ARGV[u]
  local h = redis.call('HGETALL', P .. 'rg:' .. uid)
  local joined, left, nj, nl = {}, {}, 0, 0
  for i = 1, #h, 2 do
    local kind, g = string.sub(h[i], 1, 2), string.sub(h[i], 3)
    if kind == 'j:' then joined[g] = true; nj = nj + 1 elseif kind == 'l:' then left[g] = true; nl = nl + 1 end
  end
  for _, g in ipairs(join) do
    if not joined[g] then joined[g] = true; nj = nj + 1 end
    if left[g] then left[g] = nil; nl = nl - 1 end
  end
  for _, g in ipairs(leave) do
    if not left[g] then left[g] = true; nl = nl + 1 end
    if joined[g] then joined[g] = nil; nj = nj - 1 end
  end
  if nj > maxGroups or nl > maxGroups then return {'many', uid} end
  if not redis.call('ZSCORE', idx, uid) then added = added + 1 end
end
if added > 0 and redis.call('ZCARD', idx) + added > maxUids then return {'full'} end
for u = first, #ARGV do
  local uid = ARGV[u]
  local key = P .. 'rg:' .. uid
  for _, g in ipairs(join) do
    redis.call('HSET', key, 'j:' .. g, 1)
    redis.call('HDEL', key, 'l:' .. g)
  end
  for _, g in ipairs(leave) do
    redis.call('HSET', key, 'l:' .. g, 1)
    redis.call('HDEL', key, 'j:' .. g)
  end
  redis.call('PEXPIRE', key, ttl)
  redis.call('ZADD', idx, now + ttl, uid)
end
redis.call('PUBLISH', P .. 'groups', payload)
return {'ok'}
`;
const changeScript = new Script(CHANGE_LUA);

export interface RedisRuntimeGroupsOptions extends RuntimeGroupsOptions {
  /** Connected client for commands and scripts. */
  readonly client: RedisClient;
  /**
   * The broker's subscribed client: changes travel on it next to the messages, so a node sees a
   * change and the messages published around it in the order Redis handled them.
   */
  readonly sub: RedisClient;
  readonly prefix: string;
  readonly log?: Logger | undefined;
}

/** A change as it travels on `P groups`: the id lets its caller know it has come back. */
interface Wire {
  readonly id: string;
  readonly uids: string[];
  readonly join: string[];
  readonly leave: string[];
}

/**
 * Cluster runtime groups: a hash per uid that expires with the uid's TTL, changed by one script
 * per call, which also publishes the change on `P groups`. Every node (the caller included) applies
 * changes from that channel only, on the subscription that carries the messages: a push made after
 * `change()` resolved reaches a node after the change, a push made before it, before. `change()`
 * resolves once the change came back to this node (or after `ECHO_TIMEOUT_MS`).
 *
 * A node whose subscription was down missed changes: its catch-up reads the store again for the
 * uids of its live connections once `listening` (see `LiveGroups.refresh`).
 */
export class RedisRuntimeGroups implements RuntimeGroups {
  private readonly channel: string;
  private listeners: GroupChangeListener[] = [];
  private readonly echoes = new Map<string, () => void>();
  private closed = false;
  private subscribed = false;
  private readonly onMessage = (channel: string, text: string) => this.receive(channel, text);
  private readonly onReady = () => void this.listen();
  private readonly onClose = () => {
    this.subscribed = false;
  };

  constructor(private readonly opts: RedisRuntimeGroupsOptions) {
    this.channel = `${opts.prefix}groups`;
    opts.sub.on('message', this.onMessage);
    opts.sub.on('ready', this.onReady);
    opts.sub.on('close', this.onClose);
    if (opts.sub.status === 'ready') void this.listen();
  }

  get listening(): boolean {
    return this.subscribed;
  }

  async change(c: GroupChange): Promise<void> {
    if (this.closed) throw closedError('runtime groups');
    const id = randomBytes(8).toString('hex');
    const wire: Wire = { id, uids: [...c.uids], join: [...c.join], leave: [...c.leave] };
    const o = this.opts;
    const args: (string | number | Buffer)[] = [
      o.prefix,
      o.ttlMs,
      o.maxUids,
      o.maxGroupsPerUid,
      JSON.stringify(wire),
    ];
    args.push(
      c.join.length,
      ...c.join.map(keyBytes),
      c.leave.length,
      ...c.leave.map(keyBytes),
      ...c.uids.map(keyBytes),
    );
    let timer: NodeJS.Timeout | undefined;
    const echoed = new Promise<void>((resolve) => {
      this.echoes.set(id, resolve);
      timer = setTimeout(resolve, ECHO_TIMEOUT_MS);
      timer.unref();
    });
    try {
      let r: string[];
      try {
        r = (await changeScript.run(o.client, `${o.prefix}state`, args)) as string[];
      } catch (err) {
        if (this.closed) throw closedError('runtime groups');
        o.log?.warn({ err: redisErrorLog(err) }, 'runtime groups change failed');
        throw unavailable('backend unavailable', 'backend_unavailable');
      }
      if (r[0] === 'many') throw tooMany(String(r[1]), o.maxGroupsPerUid);
      if (r[0] === 'full') throw full(o.maxUids);
      await echoed;
    } finally {
      clearTimeout(timer);
      this.echoes.delete(id);
    }
  }

  async get(uid: string): Promise<RuntimeDelta | undefined> {
    if (this.closed) throw closedError('runtime groups');
    let h: Record<string, string>;
    try {
      h = await this.opts.client.hgetall(keyOf(`${this.opts.prefix}rg:`, uid));
    } catch {
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
    const joined: string[] = [];
    const left: string[] = [];
    for (const f of Object.keys(h)) {
      if (f.startsWith('j:')) joined.push(f.slice(2));
      else if (f.startsWith('l:')) left.push(f.slice(2));
    }
    return joined.length === 0 && left.length === 0 ? undefined : { joined, left };
  }

  subscribe(listener: GroupChangeListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners = [];
    this.opts.sub.off('message', this.onMessage);
    this.opts.sub.off('ready', this.onReady);
    this.opts.sub.off('close', this.onClose);
    for (const done of this.echoes.values()) done();
    if (this.opts.sub.status === 'ready') await this.opts.sub.unsubscribe(this.channel).catch(() => {});
  }

  private async listen(): Promise<void> {
    if (this.closed || this.subscribed) return;
    try {
      await this.opts.sub.subscribe(this.channel);
    } catch (err) {
      // A connection that stays up (no new 'ready' will come) is retried here.
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'runtime groups subscribe failed');
      if (!this.closed && this.opts.sub.status === 'ready') setTimeout(() => void this.listen(), 200).unref();
      return;
    }
    this.subscribed = true;
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.channel || this.closed) return;
    let w: Wire;
    try {
      w = JSON.parse(text) as Wire;
    } catch {
      this.opts.log?.error('unreadable change on the runtime groups channel');
      return;
    }
    const change: GroupChange = { uids: w.uids, join: w.join, leave: w.leave };
    for (const l of this.listeners) l(change);
    this.echoes.get(w.id)?.();
  }
}

/** `prefix` followed by a name's bytes (see `keyBytes`). */
function keyOf(prefix: string, name: string): string | Buffer {
  const b = keyBytes(name);
  return typeof b === 'string' ? prefix + b : Buffer.concat([Buffer.from(prefix), b]);
}
