import type { Cluster, Redis } from 'ioredis';
import { type Control, type ControlCommand, type ControlListener, parseCommand } from './control.js';
import { closedError, unavailable } from './errors.js';
import type { Logger } from './logger.js';
import { redisErrorLog } from './redis-log.js';

/** Delay before a failed SUBSCRIBE on a live connection is sent again. */
const RESUBSCRIBE_MS = 200;

/** The pub/sub channel control commands travel on, under the deployment's key prefix. */
export const controlChannel = (prefix: string) => `${prefix}ctl`;

export interface RedisControlOptions {
  /** Connected command client: publishes. A plain Redis or a cluster-mode one. */
  readonly pub: Redis | Cluster;
  /** The subscriber client (shared with the broker's fan-out channel; it never publishes). */
  readonly sub: Redis | Cluster;
  readonly prefix: string;
  readonly log?: Logger | undefined;
}

/**
 * Control commands on the Redis channel `<prefix>ctl`: `send` publishes through the command
 * client, every node (the sender too) receives on its subscriber client and hands the command to
 * its listeners. One channel, so every node sees commands in the order Redis took them. When the
 * subscriber connection closes the `onLost` listeners run; once the subscription is re-established
 * the `onGap` listeners run: commands sent meanwhile are gone.
 */
export class RedisControl implements Control {
  private readonly channel: string;
  private listeners: ControlListener[] = [];
  private gapListeners: (() => void)[] = [];
  private lostListeners: (() => void)[] = [];
  private subscribed = false;
  private wasDown = false;
  private closed = false;
  private readonly onMessage = (channel: string, text: string) => this.receive(channel, text);
  private readonly onReady = () => void this.subscribe();
  private readonly onClose = () => {
    this.subscribed = false;
    this.wasDown = true;
    for (const l of this.lostListeners) l();
  };

  constructor(private readonly opts: RedisControlOptions) {
    this.channel = controlChannel(opts.prefix);
    opts.sub.on('message', this.onMessage);
    opts.sub.on('ready', this.onReady);
    opts.sub.on('close', this.onClose);
    if (opts.sub.status === 'ready') void this.subscribe();
  }

  /** Resolves once the channel subscription is in place. */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.subscribed) {
      if (this.closed) throw closedError('control');
      if (Date.now() > deadline) throw unavailable('redis is not reachable', 'backend_unavailable');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async send(cmd: ControlCommand): Promise<void> {
    if (this.closed) throw closedError('control');
    try {
      await this.opts.pub.publish(this.channel, JSON.stringify(cmd));
    } catch (err) {
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'control publish failed');
      throw unavailable('backend unavailable', 'backend_unavailable');
    }
  }

  listen(listener: ControlListener): void {
    this.listeners.push(listener);
  }

  onLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  onGap(listener: () => void): void {
    this.gapListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners = [];
    this.gapListeners = [];
    this.lostListeners = [];
    const sub = this.opts.sub;
    sub.off('message', this.onMessage);
    sub.off('ready', this.onReady);
    sub.off('close', this.onClose);
    if (sub.status === 'ready') await sub.unsubscribe(this.channel).catch(() => {});
  }

  private async subscribe(): Promise<void> {
    if (this.closed || this.subscribed) return;
    try {
      await this.opts.sub.subscribe(this.channel);
    } catch (err) {
      // A connection that stays up (no new 'ready' will come) is retried here: until the channel
      // is heard the revocations mirror is incomplete, and the node unhealthy.
      this.opts.log?.warn({ err: redisErrorLog(err) }, 'control subscribe failed');
      if (!this.closed && this.opts.sub.status === 'ready') {
        setTimeout(() => void this.subscribe(), RESUBSCRIBE_MS).unref();
      }
      return;
    }
    if (this.closed || this.subscribed) return;
    this.subscribed = true;
    if (this.wasDown) {
      this.wasDown = false;
      for (const l of this.gapListeners) l();
    }
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.channel || this.closed) return;
    const cmd = parseCommand(text);
    if (!cmd) {
      this.opts.log?.error('unreadable command on the redis control channel');
      return;
    }
    for (const l of this.listeners) l(cmd);
  }
}
