import { Redis } from 'ioredis';
import type { Broker, BrokerListener, BrokerReplay } from './broker.js';
import type { Config } from './config.js';
import { closedError, unavailable } from './errors.js';
import { mergeBySeq } from './history.js';
import type { OnceArgs, OnceResult } from './idempotency.js';
import { formatId, newEpoch, parseId } from './ids.js';
import type { Logger } from './logger.js';
import { createMessage, type Message, type PublishInput, streamsOfMessage } from './message.js';
import { RedisPresence } from './presence-redis.js';
import { POSITION_LUA, PUBLISH_LUA, REPLAY_LUA, Script } from './redis-scripts.js';

/** Key prefix of everything ssepush stores in Redis. */
export const DEFAULT_PREFIX = 'ssepush:';
/** Messages per publish script call; a larger batch is split (still in order). */
export const PUBLISH_CHUNK = 200;

const publishScript = new Script(PUBLISH_LUA);
const replayScript = new Script(REPLAY_LUA);
const positionScript = new Script(POSITION_LUA);

export interface RedisBrokerOptions {
  /** Connected client for commands and scripts. */
  readonly pub: Redis;
  /** Connected client used only for the subscription (a subscribed connection cannot publish). */
  readonly sub: Redis;
  /** Messages kept per stream (HISTORY_SIZE). */
  readonly size: number;
  /** Milliseconds a message is kept; 0 = no time limit (HISTORY_TTL_SECONDS). */
  readonly ttlMs: number;
  /** Streams kept; the least recently written is forgotten first (MAX_STREAMS). */
  readonly maxStreams: number;
  /** Key prefix; default `ssepush:`. Two deployments on one Redis need different prefixes. */
  readonly prefix?: string;
  /** Whether `close()` also disconnects the clients (true when `createRedisBroker` made them). */
  readonly ownsClients?: boolean;
  readonly log?: Logger;
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
export class RedisBroker implements Broker {
  readonly presence: RedisPresence;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
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
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.channel = `${this.prefix}msg`;
    this.sub.on('message', this.onMessage);
    this.sub.on('ready', this.onSubReady);
    this.sub.on('close', this.onSubClose);
    this.presence = new RedisPresence({ client: this.pub, prefix: this.prefix, log: opts.log });
    if (this.sub.status === 'ready') void this.resubscribe();
  }

  /** Resolves once the channel subscription is in place (the broker is healthy from then on). */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.healthy) {
      if (this.closed) throw closedError('broker');
      if (Date.now() > deadline) throw unavailable('redis is not reachable', 'backend_unavailable');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get healthy(): boolean {
    return !this.closed && this.subscribed && this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  /** Registers a callback for "live fan-out may have missed messages; resume by replay". */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async publish(inputs: readonly PublishInput[]): Promise<Message[]> {
    this.check();
    const out: Message[] = [];
    for (let i = 0; i < inputs.length; i += PUBLISH_CHUNK) {
      out.push(...(await this.publishChunk(inputs.slice(i, i + PUBLISH_CHUNK))));
    }
    return out;
  }

  /**
   * Publishes the whole batch in one script call unless `once.key` is recorded, recording it in
   * the same atomic step (see `OnceBroker`); one call, so a keyed batch is never half published.
   */
  async publishOnce(inputs: readonly PublishInput[], once: OnceArgs): Promise<OnceResult<Message[]>> {
    this.check();
    const r = await this.runPublish(inputs, [once.key, once.fingerprint, once.ttlMs]);
    if (r[0] === '!dup') return { kind: 'recorded', record: r[1]! };
    return { kind: 'published', value: this.messagesOf(inputs, r) };
  }

  /** The command client, for stores that share the broker's connection (idempotency keys). */
  get client(): Redis {
    return this.pub;
  }

  /** The key prefix of this deployment. */
  get keyPrefix(): string {
    return this.prefix;
  }

  private async publishChunk(inputs: readonly PublishInput[]): Promise<Message[]> {
    return this.messagesOf(inputs, await this.runPublish(inputs, []));
  }

  private async runPublish(
    inputs: readonly PublishInput[],
    trailing: readonly (string | number)[],
  ): Promise<string[]> {
    const { size, ttlMs, maxStreams } = this.opts;
    const args: (string | number)[] = [
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
      args.push(streams.length, ...streams, payloadOf(input));
    }
    args.push(...trailing);
    return (await this.call(() => publishScript.run(this.pub, args))) as string[];
  }

  private messagesOf(inputs: readonly PublishInput[], r: string[]): Message[] {
    const epoch = r[0]!;
    const time = Number(r[1]);
    this.saw(epoch, Number(r[r.length - 1]));
    return inputs.map((input, i) => {
      const seq = Number(r[i + 2]);
      return createMessage(input, formatId(epoch, seq), seq, time);
    });
  }

  async replay(streams: readonly string[], resumeId: string): Promise<BrokerReplay> {
    this.check();
    const pos = parseId(resumeId);
    const r = (await this.call(() =>
      replayScript.run(this.pub, [
        this.prefix,
        this.opts.ttlMs,
        pos?.seq ?? 0,
        pos?.epoch ?? '',
        this.candidate,
        this.seenEpoch,
        this.seenSeq,
        ...streams,
      ]),
    )) as string[];
    const epoch = r[0]!;
    this.saw(epoch, Number(r[1]));
    const position = formatId(epoch, Number(r[1]));
    if (!pos) return { complete: false, messages: [], position, reason: 'bad_id' };
    const status = r[2]!;
    if (status !== 'ok') return { complete: false, messages: [], position, reason: status };
    const parts: Message[][] = [];
    for (let i = 3; i < r.length; i++) parts.push([parseRecord(epoch, r[i]!)]);
    return { complete: true, messages: mergeBySeq(parts), position };
  }

  async position(): Promise<string> {
    this.check();
    const r = (await this.call(() =>
      positionScript.run(this.pub, [this.prefix, this.candidate, this.seenEpoch, this.seenSeq]),
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
    if (this.opts.ownsClients) {
      await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
      this.pub.disconnect();
      this.sub.disconnect();
    } else if (this.sub.status === 'ready') {
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

  private check(): void {
    if (this.closed) throw closedError('broker');
  }

  /** Runs a Redis call; a connection failure becomes a 503 the publisher can see and retry. */
  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (this.closed) throw closedError('broker');
      this.opts.log?.warn({ err }, 'redis call failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
  }

  private async resubscribe(): Promise<void> {
    if (this.closed || this.subscribed) return;
    try {
      await this.sub.subscribe(this.channel);
    } catch (err) {
      this.opts.log?.warn({ err }, 'redis subscribe failed');
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
      this.opts.log?.info('redis subscription restored; live connections resume by replay');
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
      this.opts.log?.error({ err }, 'unreadable message on the redis channel');
      return;
    }
    this.saw(text.slice(0, sp), msg.seq);
    for (const l of this.listeners) l(msg);
  }
}

/** The stored form of a message minus seq and time: a header line, then the data JSON. */
function payloadOf(input: PublishInput): string {
  return `${JSON.stringify({ e: input.event, o: input.to, g: input.groups })}\n${input.data}`;
}

interface Header {
  e: string;
  o: string[];
  g: string[];
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
  const input: PublishInput = { event: h.e, to: h.o, groups: h.g, data: rec.slice(nl + 1) };
  return createMessage(input, formatId(epoch, seq), seq, time);
}

/** Options of the clients `createRedisBroker` makes. */
const CLIENT_OPTIONS = {
  // Fail fast while Redis is down: the hub answers 503 instead of queueing requests.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: (times: number) => Math.min(100 * times, 2000),
  lazyConnect: true,
} as const;

/**
 * Connects the command and subscriber clients for `config.redisUrl` and returns a ready
 * broker; fails when Redis cannot be reached at start-up.
 */
export async function createRedisBroker(config: Config, log?: Logger): Promise<RedisBroker> {
  const url = config.redisUrl;
  if (!url) throw new Error('REDIS_URL is not set');
  const pub = new Redis(url, { ...CLIENT_OPTIONS, connectionName: 'ssepush-pub' });
  const sub = new Redis(url, { ...CLIENT_OPTIONS, connectionName: 'ssepush-sub', autoResubscribe: false });
  let lastError = '';
  for (const c of [pub, sub]) {
    c.on('error', (err: Error) => {
      lastError = err.message;
      log?.debug({ err: err.message }, 'redis error');
    });
  }
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    const why = lastError || (err instanceof Error ? err.message : String(err));
    throw new Error(`cannot reach Redis at REDIS_URL: ${why}`);
  }
  const broker = new RedisBroker({
    pub,
    sub,
    size: config.historySize,
    ttlMs: config.historyTtlMs,
    maxStreams: config.maxStreams,
    ownsClients: true,
    ...(log ? { log } : {}),
  });
  await broker.ready();
  return broker;
}
