import { Cluster } from 'ioredis';
import {
  type Broker,
  type BrokerListener,
  type BrokerReplay,
  type ReplayOptions,
  type ReplayRead,
  replayLimit,
} from './broker.js';
import type { Config } from './config.js';
import { RedisControl } from './control-redis.js';
import type { DisconnectNoticeOptions } from './disconnect-notices.js';
import { RedisDisconnectNotices } from './disconnect-notices-redis.js';
import { closedError, unavailable } from './errors.js';
import { mergeBySeq } from './history.js';
import type { OnceArgs, OnceBroker, OnceResult } from './idempotency.js';
import { formatId, newEpoch, type Position, parseId } from './ids.js';
import type { Logger } from './logger.js';
import { createMessage, type Message, type PublishInput, streamsOfMessage, visibleTo } from './message.js';
import { keyBytes } from './names.js';
import { RedisPresence } from './presence-redis.js';
import { closeClients, createRedisClients, type RedisClient } from './redis-connect.js';
import { redisErrorLog } from './redis-log.js';
import { POSITION_LUA, PUBLISH_LUA, REPLAY_LUA, Script, WEBHOOK_TICK_LUA } from './redis-scripts.js';
import { RedisRevocations } from './revocations-redis.js';
import type { RuntimeGroupsOptions } from './runtime-groups.js';
import { RedisRuntimeGroups } from './runtime-groups-redis.js';
import type { WebhookConfig } from './webhook-config.js';
import { RedisWebhookQueue } from './webhook-queue-redis.js';
import type { WebhookSource } from './webhooks.js';

/** Key prefix of everything ssepush stores in Redis. */
export const DEFAULT_PREFIX = 'ssepush:';

/**
 * The key prefix actually used. Cluster-mode Redis needs every key a script touches in one slot,
 * so a prefix without a hash tag gets one there (`ssepush:` -> `{ssepush}:`). A single Redis or
 * Sentinel keeps the prefix as given: existing deployments keep their keys, and their epoch.
 */
export function keyPrefix(prefix: string, cluster: boolean): string {
  const open = prefix.indexOf('{');
  const hasTag = open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
  if (!cluster || hasTag) return prefix;
  return prefix.endsWith(':') && prefix.length > 1 ? `{${prefix.slice(0, -1)}}:` : `{${prefix}}`;
}

const publishScript = new Script(PUBLISH_LUA);
const replayScript = new Script(REPLAY_LUA);
const positionScript = new Script(POSITION_LUA);
const webhookTickScript = new Script(WEBHOOK_TICK_LUA);

export interface RedisBrokerOptions {
  /** Connected client for commands and scripts (a `Cluster` client for cluster-mode Redis). */
  readonly pub: RedisClient;
  /** Connected client used only for the subscription (a subscribed connection cannot publish). */
  readonly sub: RedisClient;
  /** Messages kept per stream (HISTORY_SIZE). */
  readonly size: number;
  /** Milliseconds a message is kept; 0 = no time limit (HISTORY_TTL_SECONDS). */
  readonly ttlMs: number;
  /** Streams kept; the least recently written is forgotten first (MAX_STREAMS). */
  readonly maxStreams: number;
  /**
   * Key prefix; default `ssepush:`. Two deployments on one Redis need different prefixes. On
   * cluster-mode Redis it gets a hash tag if it has none (see `keyPrefix`).
   */
  readonly prefix?: string;
  /**
   * Replicas that must confirm each publish (`WAIT`) before it is acknowledged; 0 = off
   * (REDIS_WAIT_REPLICAS). Not on cluster-mode Redis.
   */
  readonly waitReplicas?: number;
  /** Milliseconds a publish waits for them before it answers 503 (REDIS_WAIT_TIMEOUT_MS). */
  readonly waitTimeoutMs?: number;
  /** Seconds a revocation lasts (REVOKE_TTL_SECONDS); default 86400. */
  readonly revokeTtlSec?: number;
  /** Uids holding a revocation at once (MAX_REVOCATIONS); default 100000. */
  readonly maxRevocations?: number;
  /** Bounds of the disconnect notices; defaults: 30 s, 100,000 uids. */
  readonly disconnectNotices?: DisconnectNoticeOptions;
  /** Bounds of the runtime groups store; defaults: a day, 100,000 uids, 64 groups per uid. */
  readonly runtimeGroups?: RuntimeGroupsOptions;
  /** Whether `close()` also disconnects the clients (true when `createRedisBroker` made them). */
  readonly ownsClients?: boolean;
  readonly log?: Logger;
  /** Presence webhooks (`WEBHOOK_URL`): transitions are recorded cluster-wide by presence. */
  readonly webhook?: WebhookConfig | undefined;
}

/**
 * The cluster broker: ids, history and fan-out live in Redis, so any number of processes on any
 * number of machines form one push server. Every publish is one Lua script (id, history append,
 * PUBLISH); every node subscribes to one channel, so pub/sub order is id order everywhere.
 *
 * Besides the `Broker` contract it tells the hub when live fan-out may have missed messages
 * (`onResync`: the subscription was re-established after a disconnect) and exposes
 * cluster-wide presence.
 */
export class RedisBroker implements Broker, OnceBroker {
  readonly presence: RedisPresence;
  /** `POST /disconnect` to every node, on the `<prefix>ctl` channel. */
  readonly control: RedisControl;
  readonly revocations: RedisRevocations;
  readonly disconnectNotices: RedisDisconnectNotices;
  readonly runtimeGroups: RedisRuntimeGroups;
  private readonly pub: RedisClient;
  private readonly sub: RedisClient;
  /**
   * The key prefix in use (with its hash tag on cluster-mode Redis, see `keyPrefix`): stores that
   * share the broker's keyspace (idempotency keys) put their keys under it, in the same slot.
   */
  readonly prefix: string;
  /** The key every script declares (`KEYS[1]`): cluster clients route a script by it. */
  private readonly stateKey: string;
  private readonly channel: string;
  private listeners: BrokerListener[] = [];
  private resyncListeners: (() => void)[] = [];
  private subscribed = false;
  private wasDown = false;
  private closed = false;
  /** Random part of the epoch this process creates when Redis has none (first use, or wiped). */
  private readonly candidate = newEpoch().slice(0, 8);
  /**
   * Newest position this process has seen Redis issue (publish answers, fan-out, positions).
   * Sent with every script: if Redis comes back older than this (restored from older data),
   * the script moves its counter past it instead of issuing these ids again.
   */
  private seenEpoch = '';
  private seenSeq = 0;
  private readonly onMessage = (channel: string, text: string) => this.receive(channel, text);
  private readonly onSubReady = () => void this.resubscribe();
  private readonly onSubClose = () => {
    if (this.subscribed) this.opts.log?.warn('redis subscription lost');
    this.subscribed = false;
    this.wasDown = true;
  };

  constructor(private readonly opts: RedisBrokerOptions) {
    this.pub = opts.pub;
    this.sub = opts.sub;
    const cluster = opts.pub instanceof Cluster;
    if (cluster && (opts.waitReplicas ?? 0) > 0) {
      throw new Error('REDIS_WAIT_REPLICAS is not supported on cluster-mode Redis');
    }
    this.prefix = keyPrefix(opts.prefix ?? DEFAULT_PREFIX, cluster);
    this.stateKey = `${this.prefix}state`;
    this.channel = `${this.prefix}msg`;
    this.sub.on('message', this.onMessage);
    this.sub.on('ready', this.onSubReady);
    this.sub.on('close', this.onSubClose);
    this.presence = new RedisPresence({
      client: this.pub,
      prefix: this.prefix,
      log: opts.log,
      webhook: opts.webhook && { graceMs: opts.webhook.offlineGraceMs, queueMax: opts.webhook.queueMax },
    });
    this.runtimeGroups = new RedisRuntimeGroups({
      client: this.pub,
      sub: this.sub,
      prefix: this.prefix,
      log: opts.log,
      ...(opts.runtimeGroups ?? { ttlMs: 86_400_000, maxUids: 100_000, maxGroupsPerUid: 64 }),
    });
    this.control = new RedisControl({ pub: this.pub, sub: this.sub, prefix: this.prefix, log: opts.log });
    this.revocations = new RedisRevocations({
      client: this.pub,
      control: this.control,
      prefix: this.prefix,
      ttlSec: opts.revokeTtlSec ?? 86_400,
      max: opts.maxRevocations ?? 100_000,
      log: opts.log,
    });
    this.disconnectNotices = new RedisDisconnectNotices({
      client: this.pub,
      control: this.control,
      prefix: this.prefix,
      ...(opts.disconnectNotices ?? { ttlSec: 30, max: 100_000 }),
      log: opts.log,
    });
    if (this.sub.status === 'ready') void this.resubscribe();
  }

  /**
   * Resolves once the channel subscriptions are in place (the broker is healthy from then on) and
   * the live revocations are loaded (so a restarted node refuses revoked tokens from the start).
   */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.connected) {
      if (this.closed) throw closedError('broker');
      if (Date.now() > deadline) throw unavailable('redis is not reachable', 'backend_unavailable');
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.control.ready(Math.max(0, deadline - Date.now()));
    await this.revocations.load();
    await this.disconnectNotices.load();
  }

  /**
   * Subscribed, both connections up, and the revocations mirror complete: a node that would
   * refuse connects (503 while revocations reload after a gap) is not healthy either.
   */
  get healthy(): boolean {
    return this.connected && this.revocations.ready;
  }

  private get connected(): boolean {
    return !this.closed && this.subscribed && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  /**
   * The deployment's presence webhooks: the queue lives in Redis (a node's death loses no event,
   * another node sends it), and `tick` ends offline graces with one atomic script call. What this
   * node queued is counted here: the tick's offline events and the presence writes' online ones.
   */
  webhookSource(config: WebhookConfig): WebhookSource {
    const key = `${this.prefix}wh`;
    return {
      queue: new RedisWebhookQueue({ client: this.pub, prefix: this.prefix, max: config.queueMax }),
      tick: async () => {
        const args = [this.prefix, config.offlineGraceMs, config.queueMax];
        const r = await webhookTickScript.run(this.pub, key, args);
        const [queued, dropped] = Array.isArray(r) ? r.map(Number) : [0, 0];
        const online = this.presence.takeWebhookCounts();
        return { queued: (queued ?? 0) + online.queued, dropped: (dropped ?? 0) + online.dropped };
      },
    };
  }

  /** Registers a callback for "live fan-out may have missed messages; catch up from history". */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  /**
   * One script call for the whole batch, so it is published whole or not at all: a failure
   * (503) never follows a partial publish that a retrying publisher would duplicate. Its cost
   * is bounded by MAX_BATCH × MAX_TARGETS stream appends.
   */
  async publish(inputs: readonly PublishInput[]): Promise<Message[]> {
    return this.messagesOf(inputs, await this.runPublish(inputs, []));
  }

  /**
   * The same one script call, with the idempotency arguments appended: publishes the whole batch
   * unless `once.key` is recorded, recording it in the same atomic step (see `OnceBroker`).
   * `once.key` must be under `prefix`; the script rebuilds it from its prefix, so it stays in the
   * slot every other key of the call is in.
   */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<Message[]>> {
    if (!once.key.startsWith(this.prefix))
      throw new Error('an idempotency key must be under the broker prefix');
    const idem = [once.key.slice(this.prefix.length), once.fingerprint, once.ttlMs];
    const r = await this.runPublish(inputs, idem);
    if (r[0] === '!dup') return { kind: 'recorded', record: r[1]! };
    return { kind: 'published', value: await this.messagesOf(inputs, r) };
  }

  /** The command client, for stores that share the broker's connection (idempotency keys). */
  get client(): RedisClient {
    return this.pub;
  }

  private async runPublish(
    inputs: readonly PublishInput[],
    trailing: readonly (string | number)[],
  ): Promise<string[]> {
    this.check();
    const { size, ttlMs, maxStreams } = this.opts;
    const args: (string | number | Buffer)[] = [
      this.prefix,
      size,
      ttlMs,
      maxStreams,
      this.candidate,
      this.seenEpoch,
      this.seenSeq,
      inputs.length,
    ];
    for (const input of inputs) {
      const streams = streamsOfMessage(input);
      args.push(streams.length, ...streams.map(keyBytes), payloadOf(input));
    }
    for (const t of trailing) args.push(t);
    return (await this.call(() => publishScript.run(this.pub, this.stateKey, args))) as string[];
  }

  /** The messages a publish answer `{epoch, timeMs, seq...}` stands for, once replicated. */
  private async messagesOf(inputs: readonly PublishInput[], r: string[]): Promise<Message[]> {
    const epoch = r[0]!;
    const time = Number(r[1]);
    this.saw(epoch, Number(r[r.length - 1]));
    await this.replicated();
    return inputs.map((input, i) => {
      const seq = Number(r[i + 2]);
      return createMessage(input, { epoch, seq }, time);
    });
  }

  async replay(streams: readonly string[], resumeId: string, opts?: ReplayOptions): Promise<BrokerReplay> {
    this.check();
    const pos = parseId(resumeId);
    const args = this.replayArgs(streams, pos, replayLimit(opts));
    const r = (await this.call(() => replayScript.run(this.pub, this.stateKey, args))) as string[];
    return this.replayAnswer(r, pos, opts?.reader);
  }

  /**
   * Many replays in pipelined rounds of at most `perRound` script calls, one round trip each: a
   * node catching its connections up after an outage (`catch-up.ts`) reads 10k streams in about
   * 40 round trips. Each read is bounded by HISTORY_SIZE (no limit is needed). A failed round
   * rejects with a 503 error; Redis restarted without its script cache is answered by `EVAL`.
   */
  async replayMany(reads: readonly ReplayRead[], perRound: number): Promise<BrokerReplay[]> {
    this.check();
    const out: BrokerReplay[] = [];
    const step = Math.max(1, perRound);
    for (let i = 0; i < reads.length; i += step) {
      const round = reads.slice(i, i + step);
      const pos = round.map((r) => parseId(r.resumeId));
      const rows = await this.call(() => this.replayRound(round, pos, false));
      for (let j = 0; j < round.length; j++) out.push(this.replayAnswer(rows[j]!, pos[j]));
    }
    return out;
  }

  private async replayRound(
    round: readonly ReplayRead[],
    pos: readonly (Position | undefined)[],
    source: boolean,
  ): Promise<string[][]> {
    const p = this.pub.pipeline();
    round.forEach((r, j) => {
      const script = source ? replayScript.source : replayScript.sha;
      const args: (string | number | Buffer)[] = [script, 1, this.stateKey];
      p.call(source ? 'EVAL' : 'EVALSHA', args.concat(this.replayArgs(r.streams, pos[j], 0)));
    });
    const res = (await p.exec()) ?? [];
    if (!source && res.some(([e]) => e?.message.startsWith('NOSCRIPT')))
      return this.replayRound(round, pos, true);
    return res.map(([err, v]) => {
      if (err) throw err;
      return v as string[];
    });
  }

  private replayArgs(
    streams: readonly string[],
    pos: Position | undefined,
    limit: number,
  ): (string | number | Buffer)[] {
    return [
      this.prefix,
      this.opts.ttlMs,
      pos?.seq ?? 0,
      pos?.epoch ?? '',
      this.candidate,
      this.seenEpoch,
      this.seenSeq,
      limit,
      ...streams.map(keyBytes),
    ];
  }

  /** A replay script's answer `{epoch, seq, status, records...}` as a value. */
  private replayAnswer(r: string[], pos: Position | undefined, reader?: string): BrokerReplay {
    const epoch = r[0]!;
    this.saw(epoch, Number(r[1]));
    const position = formatId(epoch, Number(r[1]));
    if (!pos) return { complete: false, messages: [], position, reason: 'bad_id' };
    const status = r[2]!;
    if (status !== 'ok' && status !== 'more')
      return { complete: false, messages: [], position, reason: status };
    const parts: Message[][] = [];
    for (let i = 3; i < r.length; i++) parts.push([parseRecord(epoch, r[i]!)]);
    const all = mergeBySeq(parts);
    const messages = visibleTo(all, reader);
    if (status === 'ok') return { complete: true, messages, position };
    return { complete: true, messages, position: all[all.length - 1]!.id, more: true };
  }

  async position(): Promise<string> {
    this.check();
    const r = (await this.call(() =>
      positionScript.run(this.pub, this.stateKey, [
        this.prefix,
        this.candidate,
        this.seenEpoch,
        this.seenSeq,
      ]),
    )) as string[];
    this.saw(r[0]!, Number(r[1]));
    return formatId(r[0]!, Number(r[1]));
  }

  subscribe(listener: BrokerListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners = [];
    this.resyncListeners = [];
    this.sub.off('message', this.onMessage);
    this.sub.off('ready', this.onSubReady);
    this.sub.off('close', this.onSubClose);
    await this.presence.close();
    await this.revocations.close();
    await this.disconnectNotices.close();
    await this.control.close();
    await this.runtimeGroups.close();
    if (this.opts.ownsClients) await closeClients([this.pub, this.sub]);
    else if (this.sub.status === 'ready') {
      await this.sub.unsubscribe(this.channel).catch(() => {});
    }
  }

  /** Records a position Redis issued; a new epoch (a wiped Redis) starts over. */
  private saw(epoch: string, seq: number): void {
    if (!Number.isSafeInteger(seq)) return;
    if (epoch !== this.seenEpoch) {
      this.seenEpoch = epoch;
      this.seenSeq = seq;
    } else if (seq > this.seenSeq) this.seenSeq = seq;
  }

  /**
   * With REDIS_WAIT_REPLICAS, waits until that many replicas hold everything this connection
   * wrote. On timeout the messages are already published (live subscribers may have them) but a
   * failover may lose them from history: the publisher gets a 503, and a retry may duplicate.
   */
  private async replicated(): Promise<void> {
    const want = this.opts.waitReplicas ?? 0;
    if (want <= 0 || this.pub instanceof Cluster) return;
    const pub = this.pub;
    const ms = this.opts.waitTimeoutMs ?? 1000;
    const got = await this.call(() => pub.wait(want, ms));
    if (got < want) {
      throw unavailable(
        `published, but ${got} of ${want} replicas confirmed it within ${ms} ms: a failover may lose it; a retry may deliver it twice`,
        'replication_timeout',
      );
    }
  }

  private check(): void {
    if (this.closed) throw closedError('broker');
  }

  /** Runs a Redis call; a connection failure becomes a 503 the publisher can see and retry. */
  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (this.closed) throw closedError('broker');
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'redis call failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
  }

  private async resubscribe(): Promise<void> {
    if (this.closed || this.subscribed) return;
    try {
      await this.sub.subscribe(this.channel);
    } catch (err) {
      // Only the error's class and message: the error may carry the command. A connection that
      // stays up (no new 'ready' will come) is retried here, or the node would stay unsubscribed.
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'redis subscribe failed');
      if (this.sub.status === 'ready') setTimeout(() => void this.resubscribe(), 200).unref();
      return;
    }
    if (this.closed) return;
    this.restored();
  }

  /**
   * The subscription is in place again; after an outage, the resync listeners run now, before
   * any message of the new subscription is handed on. The first messages can arrive in the same
   * socket read as the SUBSCRIBE reply, so they reach `receive` before `subscribe()`'s promise
   * resumes `resubscribe`: a live connection handed one of them first would move past the
   * messages it missed while the subscription was down.
   */
  private restored(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    if (this.wasDown) {
      this.wasDown = false;
      this.opts.log?.info('redis subscription restored; live connections are caught up');
      for (const l of this.resyncListeners) l();
    }
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.channel || this.closed) return;
    // A message on the channel proves the subscription is back.
    this.restored();
    const sp = text.indexOf(' ');
    let msg: Message;
    try {
      msg = parseRecord(text.slice(0, sp), text.slice(sp + 1));
    } catch (err) {
      // The error text could quote the record (JSON.parse does): log its class only.
      this.opts.log?.error(
        { err: { type: err instanceof Error ? err.name : typeof err } },
        'unreadable message on the redis channel',
      );
      return;
    }
    this.saw(text.slice(0, sp), msg.seq);
    for (const l of this.listeners) l(msg);
  }
}

/**
 * The stored form of a message minus seq and time: a header line, then the data JSON. The header
 * names the event (`e`), uids (`o`), groups (`g`) and, only when there are any, excluded uids
 * (`x`): records written before `exclude` existed have no `x` and read as excluding no one.
 */
function payloadOf(input: PublishInput): string {
  const h: Header = { e: input.event, o: input.to, g: input.groups };
  if (input.exclude && input.exclude.length > 0) h.x = input.exclude;
  return `${JSON.stringify(h)}\n${input.data}`;
}

interface Header {
  e: string;
  o: readonly string[];
  g: readonly string[];
  x?: readonly string[];
}

/** Parses `<seq> <timeMs> <header>\n<data>` back into a message (its SSE frame built once). */
export function parseRecord(epoch: string, rec: string): Message {
  const a = rec.indexOf(' ');
  const b = rec.indexOf(' ', a + 1);
  const nl = rec.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || nl < 0) throw new Error('malformed record');
  const seq = Number(rec.slice(0, a));
  const time = Number(rec.slice(a + 1, b));
  const h = JSON.parse(rec.slice(b + 1, nl)) as Header;
  const input: PublishInput = {
    event: h.e,
    to: h.o,
    groups: h.g,
    ...(h.x ? { exclude: h.x } : {}),
    data: rec.slice(nl + 1),
  };
  return createMessage(input, { epoch, seq }, time);
}

/**
 * Connects the command and subscriber clients for the configured Redis (URL, Sentinel or
 * cluster mode; see `createRedisClients`) and returns a ready broker; fails when Redis cannot be
 * reached at start-up.
 */
export async function createRedisBroker(config: Config, log?: Logger): Promise<RedisBroker> {
  const { pub, sub, kind } = await createRedisClients(config, log);
  const wait = config.redis?.waitReplicas ?? 0;
  if (kind === 'cluster' && wait > 0) {
    await closeClients([pub, sub]);
    throw new Error('REDIS_WAIT_REPLICAS is not supported on cluster-mode Redis');
  }
  const broker = new RedisBroker({
    pub,
    sub,
    size: config.historySize,
    ttlMs: config.historyTtlMs,
    maxStreams: config.maxStreams,
    revokeTtlSec: config.revokeTtlSec,
    maxRevocations: config.maxRevocations,
    disconnectNotices: { ttlSec: config.disconnectNoticeSec, max: config.maxDisconnectNotices },
    runtimeGroups: {
      ttlMs: config.groupsTtlSec * 1000,
      maxUids: config.maxRuntimeGroupUids,
      maxGroupsPerUid: config.maxGroupsPerToken,
    },
    ownsClients: true,
    waitReplicas: wait,
    waitTimeoutMs: config.redis?.waitTimeoutMs ?? 1000,
    webhook: config.webhook,
    ...(log ? { log } : {}),
  });
  await broker.ready();
  return broker;
}
