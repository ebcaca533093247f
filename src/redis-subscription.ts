import type { BrokerListener } from './broker.js';
import type { Logger } from './logger.js';
import type { Message } from './message.js';
import type { RedisClient } from './redis-connect.js';
import { redisErrorLog } from './redis-log.js';
import { parseRecord } from './redis-record.js';

/**
 * The Redis broker's fan-out channel on the subscriber connection: every node subscribes to one
 * channel, so pub/sub order is id order everywhere. It knows when the subscription is in place,
 * subscribes again when the connection comes back, and then tells the resync listeners that live
 * fan-out may have missed messages (the hub catches its connections up from history).
 */
/**
 * How often the subscriber connection is pinged while subscribed. A subscribed connection sends
 * nothing, so a dead link would never time out (the socket timeout, `SUB_SOCKET_TIMEOUT_MS` in
 * `redis-connect.ts`, counts from a command sent): the ping makes it, and the node then
 * reconnects and catches its connections up.
 */
const PING_MS = 2000;

export class RedisSubscription {
  private listeners: BrokerListener[] = [];
  private resyncListeners: (() => void)[] = [];
  private isSubscribed = false;
  private wasDown = false;
  private closed = false;
  private readonly pinger: NodeJS.Timeout;
  private readonly onMessage = (channel: string, text: string) => this.receive(channel, text);
  private readonly onSubReady = () => void this.resubscribe();
  private readonly onSubClose = () => {
    if (this.isSubscribed) this.log?.warn('redis subscription lost');
    this.isSubscribed = false;
    this.wasDown = true;
  };

  constructor(
    private readonly sub: RedisClient,
    private readonly channel: string,
    /** Records the position of each message received (see `RedisBroker.saw`). */
    private readonly saw: (epoch: string, seq: number) => void,
    private readonly log: Logger | undefined,
  ) {
    sub.on('message', this.onMessage);
    sub.on('ready', this.onSubReady);
    sub.on('close', this.onSubClose);
    this.pinger = setInterval(() => {
      if (this.isSubscribed && this.sub.status === 'ready') this.sub.ping().catch(() => {});
    }, PING_MS);
    this.pinger.unref();
  }

  /** Subscribes now when the connection is already up (else its 'ready' event will). */
  start(): void {
    if (this.sub.status === 'ready') void this.resubscribe();
  }

  /** Whether the channel subscription is in place. */
  get subscribed(): boolean {
    return this.isSubscribed;
  }

  subscribe(listener: BrokerListener): void {
    this.listeners.push(listener);
  }

  /** Registers a callback for "live fan-out may have missed messages; catch up from history". */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  /** Stops handing messages on and lets go of the connection's events. Idempotent. */
  close(): void {
    this.closed = true;
    clearInterval(this.pinger);
    this.listeners = [];
    this.resyncListeners = [];
    this.sub.off('message', this.onMessage);
    this.sub.off('ready', this.onSubReady);
    this.sub.off('close', this.onSubClose);
  }

  /** Leaves the channel on a connection the broker does not own (it stays open for others). */
  async unsubscribe(): Promise<void> {
    if (this.sub.status === 'ready') {
      await this.sub.unsubscribe(this.channel).catch(() => {});
    }
  }

  private async resubscribe(): Promise<void> {
    if (this.closed || this.isSubscribed) return;
    try {
      await this.sub.subscribe(this.channel);
    } catch (err) {
      // Only the error's class and message: the error may carry the command. A connection that
      // stays up (no new 'ready' will come) is retried here, or the node would stay unsubscribed.
      this.log?.warn({ err: redisErrorLog(err) }, 'redis subscribe failed');
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
    if (this.isSubscribed) return;
    this.isSubscribed = true;
    if (this.wasDown) {
      this.wasDown = false;
      this.log?.info('redis subscription restored; live connections are caught up');
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
      this.log?.error(
        { err: { type: err instanceof Error ? err.name : typeof err } },
        'unreadable message on the redis channel',
      );
      return;
    }
    this.saw(text.slice(0, sp), msg.seq);
    for (const l of this.listeners) l(msg);
  }
}
