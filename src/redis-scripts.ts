import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connect.js';

/**
 * The Lua scripts of the Redis broker. Each runs atomically in Redis, which is what makes id
 * assignment, history append and publish one step across any number of nodes.
 *
 * Keys (under the broker's prefix `P`, default `ssepush:`):
 * - `P state`    hash {epoch, seq, lost}: the epoch is created at first use (random + clock), seq by
 *                HINCRBY. One hash, so a wiped Redis loses both together and starts a new epoch.
 *                `lost` is the newest seq a rollback may have lost (see `guard`).
 * Stream names (`u:<uid>`, `g:<group>`, `*`) are passed as their WTF-8 bytes (`keyBytes`), so
 * two different names never share a key, whatever the edge lets through.
 * - `P h:<s>`    sorted set per stream, score = seq, member = the message record
 *                `<seq> <timeMs> <header JSON>\n<data JSON>`; trimmed to HISTORY_SIZE, old
 *                members dropped by HISTORY_TTL, the key itself PEXPIREd TTL after its newest.
 * - `P last`     sorted set stream -> newest seq ever appended. Bounded to MAX_STREAMS by
 *                dropping the least recently written stream; it also proves loss when `h:<s>`
 *                has expired or been evicted as a whole.
 * - `P ev`       hash stream -> newest seq evicted from that stream (length trim or TTL).
 * - `P dropped`  newest seq of any stream forgotten by the MAX_STREAMS bound: a stream Redis
 *                knows nothing about may have lost anything up to it.
 * - `P msg`      the one pub/sub channel every node subscribes to.
 * - `P call:<n>` hash per node process: call number -> the answer of that publish call, for the
 *                last `CALLS_KEPT` calls, PEXPIREd a minute after the node's last publish. ioredis
 *                sends a call that was in flight on a lost connection again on the next one: if it
 *                had run, the record answers it instead of publishing it twice.
 * - `P idem:<k>` string per `Idempotency-Key` (src/idempotency-redis.ts), PEXPIREd by
 *                IDEMPOTENCY_TTL_SECONDS: `<fingerprint>\n<epoch>\n<seq,...>[\n<answer JSON>]`.
 *                Keys are `[A-Za-z0-9._:-]` (no braces), so they stay in the prefix's slot.
 */

/** Shared Lua helpers, prepended to scripts that need them. */
const HELPERS = `
local P = ARGV[1]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function raiseEv(stream, seq)
  local ev = tonumber(redis.call('HGET', P .. 'ev', stream) or '0')
  if tonumber(seq) > ev then redis.call('HSET', P .. 'ev', stream, seq) end
end
-- Drops members older than the TTL from the front of a stream, recording what was lost.
local function expire(h, stream, ttl, now)
  if ttl <= 0 then return end
  while true do
    local oldest = redis.call('ZRANGE', h, 0, 0, 'WITHSCORES')
    if #oldest == 0 then return end
    local t = tonumber(string.match(oldest[1], '^%d+ (%d+) '))
    if t == nil or t > now - ttl then return end
    redis.call('ZREM', h, oldest[1])
    raiseEv(stream, oldest[2])
  end
end
-- A new epoch is the caller's random candidate plus Redis' clock in microseconds, so a node
-- that recreates the epoch after a wipe never reuses one.
local function epochOf(candidate)
  local e = redis.call('HGET', P .. 'state', 'epoch')
  if e then return e end
  local t = redis.call('TIME')
  e = candidate .. string.format('%x', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('HSET', P .. 'state', 'epoch', e)
  return e
end
local function seqOf()
  return tonumber(redis.call('HGET', P .. 'state', 'seq') or '0')
end
-- Redis restored from older data (a crash with appendfsync everysec, a failover to a lagging
-- replica, a snapshot restore) keeps its epoch but forgets the newest ids. A node that has seen
-- a newer seq of this epoch proves it: the counter jumps past that seq, so no id is ever issued
-- twice, and every resume from before it is refused (state 'lost'), since any stream may have
-- lost messages up to it.
local function guard(epoch, seenEpoch, seenSeq)
  if seenEpoch ~= epoch then return end
  local seen = tonumber(seenSeq)
  if seen == nil or seen <= seqOf() then return end
  local text = string.format('%d', seen)
  redis.call('HSET', P .. 'state', 'seq', text, 'lost', text)
end
`;

/** Publish calls a node remembers the answers of (`P call:<n>`): more than it ever has in flight. */
export const CALLS_KEPT = 4096;

/**
 * ARGV: prefix, size, ttlMs, maxStreams, epochCandidate, seenEpoch, seenSeq, node, call, count,
 * then per message: k, stream_1..stream_k, payload. Returns {epoch, timeMs, seq_1, ..., seq_count},
 * or {'!again', '<epoch> <timeMs> <seq_1> ...'} for a call (`node`, `call`: its process and its
 * number there) that already ran: sent again by ioredis after its answer was lost.
 * One call publishes a whole batch or nothing of it: keys are type-checked before the first write,
 * and a script that has written runs to its end (Redis lets it exceed `maxmemory` rather than
 * stop it halfway), so a 503 never follows a partial publish.
 * Idempotency (issue 17): optional trailing ARGV after the messages: idemKey (the key under the
 * prefix, `idem:<k>`), fingerprint, ttlMs. A recorded `P idemKey` returns {'!dup', record} and
 * publishes nothing; else the record `<fingerprint>\n<epoch>\n<seq,...>` is written with the
 * publish, in the same step, so two nodes given one key publish once.
 */
export const PUBLISH_LUA = `${HELPERS}
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local maxStreams = tonumber(ARGV[4])
local callKey = P .. 'call:' .. ARGV[8]
local call = ARGV[9]
local count = tonumber(ARGV[10])
-- A call sent again after its answer was lost: the answer it had, nothing published twice.
local ran = redis.call('HGET', callKey, call)
if ran then return {'!again', ran} end
-- Idempotency: the optional key follows the messages; a recorded key wins, before any write.
local idem = 11
for _ = 1, count do idem = idem + tonumber(ARGV[idem]) + 2 end
local idemKey = ARGV[idem] and P .. ARGV[idem]
if idemKey then
  local rec = redis.call('GET', idemKey)
  if rec then return {'!dup', rec} end
end
local epoch = epochOf(ARGV[5])
guard(epoch, ARGV[6], ARGV[7])
-- All or nothing: a script that fails stops where it fails, with its earlier writes kept. So
-- every key the batch will write is checked first; a key of another type (written by someone
-- else under our prefix) fails the whole batch before anything is written.
local function mustBe(key, kind)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= kind then
    -- No key in the text: it names a user, and error texts reach logs.
    return redis.error_reply('WRONGTYPE a key of this batch holds a ' .. t .. ', not a ' .. kind)
  end
end
local bad = mustBe(P .. 'last', 'zset') or mustBe(P .. 'ev', 'hash') or mustBe(P .. 'dropped', 'string')
  or mustBe(callKey, 'hash')
if bad then return bad end
local j = 11
for _ = 1, count do
  local k = tonumber(ARGV[j])
  for s = j + 1, j + k do
    bad = mustBe(P .. 'h:' .. ARGV[s], 'zset')
    if bad then return bad end
  end
  j = j + k + 2
end
local now = nowMs()
local nowText = string.format('%d', now)
local out = {epoch, nowText}
local i = 11
for _ = 1, count do
  local k = tonumber(ARGV[i])
  i = i + 1
  local seq = redis.call('HINCRBY', P .. 'state', 'seq', 1)
  local seqText = string.format('%d', seq)
  local rec = seqText .. ' ' .. nowText .. ' ' .. ARGV[i + k]
  for s = i, i + k - 1 do
    local stream = ARGV[s]
    local h = P .. 'h:' .. stream
    if redis.call('EXISTS', h) == 0 then
      -- A stream whose key is gone lost everything up to its newest seq; a stream Redis has
      -- forgotten (or never had) may have lost anything up to the dropped watermark.
      local last = redis.call('ZSCORE', P .. 'last', stream)
      local lost = last or redis.call('GET', P .. 'dropped')
      if lost and tonumber(lost) > 0 then raiseEv(stream, lost) end
    else
      expire(h, stream, ttl, now)
    end
    redis.call('ZADD', h, seq, rec)
    if redis.call('ZCARD', h) > size then
      local popped = redis.call('ZPOPMIN', h)
      raiseEv(stream, popped[2])
    end
    if ttl > 0 then redis.call('PEXPIRE', h, ttl) end
    redis.call('ZADD', P .. 'last', seq, stream)
  end
  local extra = redis.call('ZCARD', P .. 'last') - maxStreams
  if extra > 0 then
    local gone = redis.call('ZPOPMIN', P .. 'last', extra)
    local dropped = tonumber(redis.call('GET', P .. 'dropped') or '0')
    for j = 1, #gone, 2 do
      redis.call('DEL', P .. 'h:' .. gone[j])
      redis.call('HDEL', P .. 'ev', gone[j])
      if tonumber(gone[j + 1]) > dropped then dropped = tonumber(gone[j + 1]) end
    end
    redis.call('SET', P .. 'dropped', string.format('%d', dropped))
  end
  redis.call('PUBLISH', P .. 'msg', epoch .. ' ' .. rec)
  out[#out + 1] = seqText
  i = i + k + 1
end
if idemKey then
  local seqs = table.concat(out, ',', 3)
  redis.call('SET', idemKey, ARGV[idem + 1] .. '\\n' .. epoch .. '\\n' .. seqs, 'PX', ARGV[idem + 2])
end
redis.call('HSET', callKey, call, table.concat(out, ' '))
local old = tonumber(call) - ${CALLS_KEPT}
if old > 0 then redis.call('HDEL', callKey, string.format('%d', old)) end
redis.call('PEXPIRE', callKey, 60000)
return out
`;

/**
 * ARGV: prefix, ttlMs, afterSeq, resumeEpoch, epochCandidate, seenEpoch, seenSeq, limit,
 * stream_1..stream_n. Returns {epoch, seq, status, record...}; status is ok, more,
 * epoch_changed, unknown_id or history_lost (records only when ok or more).
 * With a limit (> 0) the first `limit` records after the resume seq across the streams (merged by
 * seq, each once) are returned, status `more` when there were more; streams are read in slices as
 * the merge needs them, so the call reads about 2 × limit + streams records whatever the history
 * holds. Without one (0), every record after the resume seq, per stream (the caller merges).
 */
export const REPLAY_LUA = `${HELPERS}
local ttl = tonumber(ARGV[2])
local after = tonumber(ARGV[3])
local epoch = epochOf(ARGV[5])
guard(epoch, ARGV[6], ARGV[7])
local seq = seqOf()
local seqText = string.format('%d', seq)
if ARGV[4] ~= epoch then return {epoch, seqText, 'epoch_changed'} end
if after > seq then return {epoch, seqText, 'unknown_id'} end
local lost = {epoch, seqText, 'history_lost'}
if tonumber(redis.call('HGET', P .. 'state', 'lost') or '0') > after then return lost end
local dropped = tonumber(redis.call('GET', P .. 'dropped') or '0')
local limit = tonumber(ARGV[8])
local now = nowMs()
local out = {epoch, seqText, 'ok'}
local active = {}
for s = 9, #ARGV do
  local stream = ARGV[s]
  local h = P .. 'h:' .. stream
  if redis.call('EXISTS', h) == 1 then
    expire(h, stream, ttl, now)
    if tonumber(redis.call('HGET', P .. 'ev', stream) or '0') > after then return lost end
    if limit > 0 then
      active[#active + 1] = {h = h, from = after, buf = {}, pos = 1, done = false}
    else
      local recs = redis.call('ZRANGEBYSCORE', h, '(' .. string.format('%d', after), '+inf')
      for _, r in ipairs(recs) do out[#out + 1] = r end
    end
  else
    -- The whole key is gone (expired, evicted by maxmemory, or never written): everything up
    -- to the stream's newest seq is lost; unknown streams may have lost up to the watermark.
    local last = redis.call('ZSCORE', P .. 'last', stream)
    if (last and tonumber(last) > after) or (not last and dropped > after) then return lost end
  end
end
if limit == 0 then return out end
-- A merge by seq that reads each stream in slices of about limit / streams records, only when
-- the merge reaches them: at most about 2 × limit + streams records are read, however long the
-- streams are, then one more distinct record tells whether there is more.
local slice = math.max(1, math.ceil(limit / math.max(1, #active)))
local function head(st)
  if st.pos > #st.buf then
    if st.done then return nil end
    local recs = redis.call('ZRANGEBYSCORE', st.h, '(' .. string.format('%d', st.from), '+inf',
      'WITHSCORES', 'LIMIT', 0, slice)
    st.buf = {}
    st.pos = 1
    for r = 1, #recs, 2 do st.buf[#st.buf + 1] = {tonumber(recs[r + 1]), recs[r]} end
    if #st.buf < slice then st.done = true end
    if #st.buf == 0 then return nil end
    st.from = st.buf[#st.buf][1]
  end
  return st.buf[st.pos]
end
local prev = -1
while true do
  local best = nil
  for _, st in ipairs(active) do
    local e = head(st)
    if e and (best == nil or e[1] < head(best)[1]) then best = st end
  end
  if best == nil then break end
  local e = best.buf[best.pos]
  best.pos = best.pos + 1
  if e[1] ~= prev then
    if #out - 3 == limit then
      out[3] = 'more'
      break
    end
    out[#out + 1] = e[2]
    prev = e[1]
  end
end
return out
`;

/** ARGV: prefix, epochCandidate, seenEpoch, seenSeq. Returns {epoch, seq}. */
export const POSITION_LUA = `${HELPERS}
local epoch = epochOf(ARGV[2])
guard(epoch, ARGV[3], ARGV[4])
return {epoch, string.format('%d', seqOf())}
`;

/**
 * Per client, the scripts it has run since it last (re)connected. A restarted Redis (or a
 * promoted replica) has an empty script cache, so after a reconnect every script is unknown again.
 */
const known = new WeakMap<RedisClient, Set<string>>();

function knownOn(client: RedisClient): Set<string> {
  let shas = known.get(client);
  if (!shas) {
    const set = new Set<string>();
    shas = set;
    known.set(client, set);
    // `+node`: a cluster client connected to a node (a promoted replica) it had not used.
    client.on('close', () => set.clear());
    client.on('+node', () => set.clear());
  }
  return shas;
}

/**
 * A Lua script run by SHA once Redis knows it; the first call on a connection sends its source
 * (`EVAL`). Each call declares one key, `P state` (or any key under the prefix): the scripts read
 * the prefix from ARGV[1] and build their keys from it, all in the prefix's hash-tag slot on
 * cluster-mode Redis; the declared key is what a cluster client routes the call by.
 *
 * Why not `EVALSHA` and `EVAL` on `NOSCRIPT`: the retry goes out behind every command sent
 * meanwhile, so the call loses its place. After a Redis restart a fresh stream's position read
 * ran after a push sent once the stream was open: the stream announced the push's id and never
 * got the push. `NOSCRIPT` is still handled (a `SCRIPT FLUSH` without a reconnect).
 */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, key: string, args: readonly (string | number | Buffer)[]): Promise<unknown> {
    const shas = knownOn(client);
    // Arguments go as one array, never spread: a batch can carry a million of them.
    if (!shas.has(this.sha)) return this.evalSource(client, shas, key, args);
    try {
      return await client.call('EVALSHA', ([this.sha, 1, key] as (string | number | Buffer)[]).concat(args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.evalSource(client, shas, key, args);
    }
  }

  private async evalSource(
    client: RedisClient,
    shas: Set<string>,
    key: string,
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    const r = await client.call('EVAL', ([this.source, 1, key] as (string | number | Buffer)[]).concat(args));
    shas.add(this.sha);
    return r;
  }
}

/**
 * Presence webhooks, recorded by the presence script as it counts: a uid's cluster-wide count
 * going from 0 to 1 and back are its transitions, so each is seen by exactly one script call.
 * Keys: `P wh:on` set of uids announced online; `P wh:pend` sorted set uid -> time of its last
 * disconnect (pending offline, until the grace ends or it reconnects); `P wh:q` the event queue
 * (a list of event JSON, see webhook-queue-redis.ts), `P wh:seq` event counter, `P wh:dropped`.
 * `whQueued` and `whDropped` count the events this call queued and the oldest ones the bound
 * dropped, for the calling node's metrics.
 */
const WEBHOOK_HELPERS = `
local whQueued = 0
local whDropped = 0
local function whPush(kind, uid, t, max)
  whQueued = whQueued + 1
  local seq = redis.call('INCR', P .. 'wh:seq')
  local ev = '{"id":"' .. string.format('%x-%d', nowMs(), seq) .. '","type":"' .. kind .. '","uid":'
    .. cjson.encode(uid) .. ',"time":' .. string.format('%d', t) .. '}'
  redis.call('RPUSH', P .. 'wh:q', ev)
  local over = redis.call('LLEN', P .. 'wh:q') - max
  if over > 0 then
    redis.call('LTRIM', P .. 'wh:q', over, -1)
    redis.call('INCRBY', P .. 'wh:dropped', over)
    whDropped = whDropped + over
  end
end
local function whUp(uid, t, max)
  if redis.call('ZREM', P .. 'wh:pend', uid) == 1 then return end
  if redis.call('SADD', P .. 'wh:on', uid) == 1 then whPush('online', uid, t, max) end
end
local function whDown(uid, t)
  if redis.call('SISMEMBER', P .. 'wh:on', uid) == 1 then redis.call('ZADD', P .. 'wh:pend', t, uid) end
end
`;

/**
 * Ends offline graces: uids pending offline for `grace` ms that still have no connection go
 * offline (dated at their last disconnect). At most 500 per call; run by every node's webhook
 * timer (each call is atomic, so two nodes never emit one transition twice).
 * ARGV: prefix, grace ms, queue max. Returns `{queued, dropped}`: the events this call queued and
 * the oldest ones the bound dropped for them.
 */
export const WEBHOOK_TICK_LUA = `${HELPERS}
local now = nowMs()
${WEBHOOK_HELPERS}
local grace = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', P .. 'wh:pend', '-inf', string.format('%d', now - grace), 'WITHSCORES', 'LIMIT', 0, 500)
for i = 1, #due, 2 do
  local uid = due[i]
  redis.call('ZREM', P .. 'wh:pend', uid)
  if tonumber(redis.call('HGET', P .. 'pres', 'u:' .. uid) or '0') <= 0 then
    redis.call('SREM', P .. 'wh:on', uid)
    whPush('offline', uid, tonumber(due[i + 1]), max)
  end
end
return {whQueued, whDropped}
`;

/**
 * Presence. Keys: `P pres` hash field (`u:<uid>`, `g:<group>`, `m:<group>\n<uid>`) -> connections
 * cluster-wide, `P on` sorted set of online uids, `P gon:<group>` sorted set of the uids with a
 * connection in the group (all scores 0: pages go by ZRANGEBYLEX),
 * `P uids` distinct uids online, `P conns` connections, `P node:<id>` hash field -> that node's
 * count, `P nodes` sorted set node -> last write (Redis time, ms), `P dying` set of nodes
 * declared dead whose counts are still being subtracted.
 * ARGV: prefix, nodeId, deadMs, mode (join | delta | leave), webhook grace ms (-1 = webhooks
 * off), webhook queue max, field_1, count_1, ...
 * - `join` registers a fresh node id (a node that was declared dead comes back under a new id);
 * - `delta` sets the node's absolute counts; returns 0 when the node is not registered (declared
 *   dead, or Redis lost its data): the caller joins again under a new id and writes everything;
 * - `leave` declares the caller dead (its counts, normally already written down to zero, go).
 * Every call declares silent nodes dead and subtracts at most REAP_BUDGET fields of dying
 * nodes, so no call is long, however many connections a dead node held.
 * Returns `{known, queued, dropped}`: known is 0 as said for `delta` (else 1); queued is how many
 * webhook events (online transitions) this call queued and dropped how many of the oldest the
 * queue bound dropped for them, so the node that ran it counts them.
 */
export const PRESENCE_LUA = `${HELPERS}${WEBHOOK_HELPERS}
local node = ARGV[2]
local deadMs = tonumber(ARGV[3])
local mode = ARGV[4]
local whGrace = tonumber(ARGV[5])
local whMax = tonumber(ARGV[6])
local REAP_BUDGET = 2000
local now = nowMs()
local function adjust(field, d)
  if d == 0 then return end
  local total = redis.call('HINCRBY', P .. 'pres', field, d)
  if total <= 0 then redis.call('HDEL', P .. 'pres', field) end
  local before = total - d
  local kind = string.sub(field, 1, 2)
  if kind == 'u:' then
    redis.call('INCRBY', P .. 'conns', d)
    local uid = string.sub(field, 3)
    if before <= 0 and total > 0 then
      redis.call('INCR', P .. 'uids')
      redis.call('ZADD', P .. 'on', 0, uid)
      if whGrace >= 0 then whUp(uid, now, whMax) end
    end
    if before > 0 and total <= 0 then
      redis.call('DECR', P .. 'uids')
      redis.call('ZREM', P .. 'on', uid)
      if whGrace >= 0 then whDown(uid, now) end
    end
  elseif kind == 'm:' then
    -- m:<group>\\n<uid>: the uid's connections in the group; gon:<group> lists the uids in it.
    local nl = string.find(field, '\\n', 3, true)
    if nl then
      local key = P .. 'gon:' .. string.sub(field, 3, nl - 1)
      local uid = string.sub(field, nl + 1)
      if before <= 0 and total > 0 then redis.call('ZADD', key, 0, uid) end
      if before > 0 and total <= 0 then redis.call('ZREM', key, uid) end
    end
  end
end
local function declareDead(id)
  redis.call('ZREM', P .. 'nodes', id)
  redis.call('SADD', P .. 'dying', id)
end
local known = 1
if mode == 'join' then
  redis.call('ZADD', P .. 'nodes', now, node)
elseif mode == 'leave' then
  declareDead(node)
elseif not redis.call('ZSCORE', P .. 'nodes', node) then
  known = 0
else
  local h = P .. 'node:' .. node
  for i = 7, #ARGV, 2 do
    local field = ARGV[i]
    local n = tonumber(ARGV[i + 1])
    local old = tonumber(redis.call('HGET', h, field) or '0')
    if n > 0 then redis.call('HSET', h, field, n) else redis.call('HDEL', h, field) end
    adjust(field, n - old)
  end
  redis.call('ZADD', P .. 'nodes', now, node)
end
local dead = redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', '(' .. string.format('%d', now - deadMs))
for _, id in ipairs(dead) do declareDead(id) end
local budget = REAP_BUDGET
for _, id in ipairs(redis.call('SMEMBERS', P .. 'dying')) do
  if budget <= 0 then break end
  local h = P .. 'node:' .. id
  local kv = redis.call('HSCAN', h, 0, 'COUNT', budget)[2]
  for j = 1, #kv, 2 do
    adjust(kv[j], -tonumber(kv[j + 1]))
    redis.call('HDEL', h, kv[j])
  end
  budget = budget - #kv / 2 - 1
  if redis.call('EXISTS', h) == 0 then redis.call('SREM', P .. 'dying', id) end
end
return {known, whQueued, whDropped}
`;
