import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Broker, BrokerListener, BrokerReplay, ReplayOptions, ReplayRead } from './broker.js';
import type { Config } from './config.js';
import type { RedisControl } from './control-redis.js';
import type { RedisDisconnectNotices } from './disconnect-notices-redis.js';
import { closedError, unavailable } from './errors.js';
import type { OnceArgs, OnceBroker, OnceResult } from './idempotency.js';
import { formatId } from './ids.js';
import type { Logger } from './logger.js';
import { createMessage, type Message, type PublishInput, streamsOfMessage } from './message.js';
import { keyBytes } from './names.js';
import type { RedisPresence } from './presence-redis.js';
import { closeClients, createRedisClients, type RedisClient } from './redis-connect.js';
import { IssuedPosition } from './redis-issued.js';
import { redisErrorLog } from './redis-log.js';
import { payloadOf } from './redis-record.js';
import { RedisReplay } from './redis-replay.js';
import { POSITION_LUA, PUBLISH_LUA, Script } from './redis-scripts.js';
import { RedisStores, type RedisStoresOptions } from './redis-stores.js';
import { RedisSubscription } from './redis-subscription.js';
import type { RedisRevocations } from './revocations-redis.js';
import type { RedisRuntimeGroups } from './runtime-groups-redis.js';
import type { WebhookConfig } from './webhook-config.js';
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
const positionScript = new Script(POSITION_LUA);

/** The broker's options; the stores' bounds and the shared clients are `RedisStoresOptions`'. */
export interface RedisBrokerOptions extends Omit<RedisStoresOptions, 'prefix'> {
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
  /** Whether `close()` also disconnects the clients (true when `createRedisBroker` made them). */
  readonly ownsClients?: boolean;
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
  /** The stores above, which share this broker's connections and prefix. */
  private readonly stores: RedisStores;
  private readonly pub: RedisClient;
  private readonly sub: RedisClient;
  /**
   * The key prefix in use (with its hash tag on cluster-mode Redis, see `keyPrefix`): stores that
   * share the broker's keyspace (idempotency keys) put their keys under it, in the same slot.
   */
  readonly prefix: string;
  /** The key every script declares (`KEYS[1]`): cluster clients route a script by it. */
  private readonly stateKey: string;
  /** The fan-out channel `<prefix>msg` on the subscriber connection. */
  private readonly subscription: RedisSubscription;
  private readonly replays: RedisReplay;
  private closed = false;
  /** Positions Redis issued, sent with every script (see `IssuedPosition`). */
  private readonly issued = new IssuedPosition();
  /**
   * This process's name and its publish calls' numbers (`P call:<node>` in `redis-scripts.ts`):
   * a call ioredis sends again after losing its answer is answered, not published twice.
   */
  private readonly node = randomBytes(9).toString('base64url');
  private calls = 0;

  constructor(private readonly opts: RedisBrokerOptions) {
    this.pub = opts.pub;
    this.sub = opts.sub;
    const cluster = opts.pub instanceof Cluster;
    if (cluster && (opts.waitReplicas ?? 0) > 0) {
      throw new Error('REDIS_WAIT_REPLICAS is not supported on cluster-mode Redis');
    }
    this.prefix = keyPrefix(opts.prefix ?? DEFAULT_PREFIX, cluster);
    this.stateKey = `${this.prefix}state`;
    this.subscription = new RedisSubscription(
      this.sub,
      `${this.prefix}msg`,
      (epoch, seq) => this.issued.saw(epoch, seq),
      opts.log,
    );
    const stores = new RedisStores({ ...opts, prefix: this.prefix });
    this.stores = stores;
    this.presence = stores.presence;
    this.runtimeGroups = stores.runtimeGroups;
    this.control = stores.control;
    this.revocations = stores.revocations;
    this.disconnectNotices = stores.disconnectNotices;
    this.replays = new RedisReplay({
      pub: this.pub,
      prefix: this.prefix,
      stateKey: this.stateKey,
      ttlMs: opts.ttlMs,
      issued: this.issued,
      call: (f) => this.call(f),
    });
    this.subscription.start();
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
    await this.stores.ready(Math.max(0, deadline - Date.now()));
  }

  /**
   * Subscribed, both connections up, and the revocations mirror complete: a node that would
   * refuse connects (503 while revocations reload after a gap) is not healthy either.
   */
  get healthy(): boolean {
    return this.connected && this.revocations.ready;
  }

  private get connected(): boolean {
    return (
      !this.closed &&
      this.subscription.subscribed &&
      this.pub.status === 'ready' &&
      this.sub.status === 'ready'
    );
  }

  /** The deployment's presence webhooks (see `RedisStores.webhookSource`). */
  webhookSource(config: WebhookConfig): WebhookSource {
    return this.stores.webhookSource(config);
  }

  /** Registers a callback for "live fan-out may have missed messages; catch up from history". */
  onResync(listener: () => void): void {
    this.subscription.onResync(listener);
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
      ...this.issued.args(),
      this.node,
      ++this.calls,
      inputs.length,
    ];
    for (const input of inputs) {
      const streams = streamsOfMessage(input);
      args.push(streams.length, ...streams.map(keyBytes), payloadOf(input));
    }
    for (const t of trailing) args.push(t);
    const r = (await this.call(() => publishScript.run(this.pub, this.stateKey, args))) as string[];
    // Sent again after its answer was lost (see `node`): the answer it had the first time.
    return r[0] === '!again' ? r[1]!.split(' ') : r;
  }

  /** The messages a publish answer `{epoch, timeMs, seq...}` stands for, once replicated. */
  private async messagesOf(inputs: readonly PublishInput[], r: string[]): Promise<Message[]> {
    const epoch = r[0]!;
    const time = Number(r[1]);
    this.issued.saw(epoch, Number(r[r.length - 1]));
    await this.replicated();
    return inputs.map((input, i) => {
      const seq = Number(r[i + 2]);
      return createMessage(input, { epoch, seq }, time);
    });
  }

  async replay(streams: readonly string[], resumeId: string, opts?: ReplayOptions): Promise<BrokerReplay> {
    this.check();
    return this.replays.replay(streams, resumeId, opts);
  }

  /** Many replays in pipelined rounds (a catch-up after an outage; see `RedisReplay.replayMany`). */
  async replayMany(reads: readonly ReplayRead[], perRound: number): Promise<BrokerReplay[]> {
    this.check();
    return this.replays.replayMany(reads, perRound);
  }

  async position(): Promise<string> {
    this.check();
    const r = (await this.call(() =>
      positionScript.run(this.pub, this.stateKey, [this.prefix, ...this.issued.args()]),
    )) as string[];
    this.issued.saw(r[0]!, Number(r[1]));
    return formatId(r[0]!, Number(r[1]));
  }

  subscribe(listener: BrokerListener): void {
    this.subscription.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscription.close();
    await this.stores.close();
    if (this.opts.ownsClients) await closeClients([this.pub, this.sub]);
    else await this.subscription.unsubscribe();
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
