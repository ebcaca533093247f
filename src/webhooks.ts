import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { UidWatcher } from './hub.js';
import type { Logger } from './logger.js';
import { PresenceTransitions } from './presence-transitions.js';
import type { WebhookConfig } from './webhook-config.js';
import type { WebhookQueue } from './webhook-queue.js';
import { MemoryWebhookQueue } from './webhook-queue-memory.js';
import { WebhookSender } from './webhook-sender.js';
import type { WebhookEvent } from './webhook-signature.js';

/** How often pending offline transitions are checked: offline events go out within grace + this. */
export const WEBHOOK_TICK_MS = 250;

/**
 * Where transitions come from. Memory mode: this process's own per-uid counts (`watcher`) and a
 * timer that ends the grace. Redis mode: the presence script records transitions cluster-wide
 * as it counts connections, so each is queued by exactly one node; `tick` ends the grace there.
 */
export interface WebhookSource {
  readonly queue: WebhookQueue;
  /**
   * Queues the offline events whose grace has run out; resolves with how many events this node
   * queued since the last tick, and how many of the oldest the bound dropped, that no hook
   * counted (Redis: the tick's offline events and the online ones the presence script queued;
   * the memory source reports through its hooks).
   */
  tick(): Promise<{ queued: number; dropped: number }>;
  /** Memory mode only: the hub's per-uid notices. */
  readonly watcher?: UidWatcher;
}

/** The memory source: transitions of this process, queued in memory. */
export function memoryWebhookSource(
  config: WebhookConfig,
  hooks: { queued(n: number): void; dropped(n: number): void },
): WebhookSource {
  const transitions = new PresenceTransitions(config.offlineGraceMs);
  const queue = new MemoryWebhookQueue(config.queueMax);
  const push = (events: WebhookEvent[]) => {
    if (events.length === 0) return;
    hooks.queued(events.length);
    void queue.push(events).then((dropped) => dropped > 0 && hooks.dropped(dropped));
  };
  return {
    queue,
    tick: async () => {
      push(transitions.due());
      return { queued: 0, dropped: 0 };
    },
    watcher: {
      up(uid) {
        const e = transitions.up(uid);
        if (e) push([e]);
      },
      down(uid) {
        transitions.down(uid);
      },
    },
  };
}

/**
 * Presence webhooks (`WEBHOOK_URL`): turns transitions into queued events, ends each offline grace
 * on time, and runs the sender. Nothing here is on the path of a push or a connection: a slow,
 * failing or hanging receiver only delays these events, and `/healthz` stays green.
 */
export class Webhooks {
  private readonly sender: WebhookSender;
  private readonly timer: NodeJS.Timeout;
  private readonly queued: Counter;
  private readonly dropped: Counter;
  private closed = false;
  private ticking = false;

  constructor(
    config: WebhookConfig,
    private readonly source: WebhookSource,
    registry: Registry,
    private readonly log: Logger,
  ) {
    const r = [registry];
    this.queued = new Counter({
      name: 'ssepush_webhook_events_queued_total',
      help: 'Presence events this node queued for WEBHOOK_URL (online, offline); sum the nodes for the cluster',
      registers: r,
    });
    this.dropped = new Counter({
      name: 'ssepush_webhook_events_dropped_total',
      help: 'Presence events dropped because the queue was full (WEBHOOK_QUEUE_MAX): the oldest go',
      registers: r,
    });
    const sent = new Counter({
      name: 'ssepush_webhook_events_sent_total',
      help: 'Presence events the receiver acknowledged with a 2xx',
      registers: r,
    });
    const retried = new Counter({
      name: 'ssepush_webhook_events_retried_total',
      help: 'Presence events sent again after a failed attempt (error, timeout, non-2xx)',
      labelNames: ['reason'],
      registers: r,
    });
    const latency = new Histogram({
      name: 'ssepush_webhook_delivery_seconds',
      help: 'From the transition (first connection, or end of the grace for offline) to the 2xx',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: r,
    });
    const queue = source.queue;
    new Gauge({
      name: 'ssepush_webhook_queue_length',
      help: 'Presence events waiting for the receiver',
      registers: r,
      async collect() {
        this.set(await queue.size().catch(() => 0));
      },
    });
    this.sender = new WebhookSender({
      url: config.url,
      secret: config.secret,
      queue,
      log,
      hooks: {
        sent(n, ages) {
          sent.inc(n);
          // An offline event is dated at the last disconnect; it becomes due a grace later.
          for (const ms of ages) latency.observe(Math.max(0, ms) / 1000);
        },
        retried(n, why) {
          retried.inc({ reason: /^\d+$/.test(why) ? `http_${why}` : why.toLowerCase() }, n);
        },
      },
    });
    this.sender.start();
    this.timer = setInterval(() => void this.tick(), WEBHOOK_TICK_MS);
    this.timer.unref();
  }

  /** Counts events queued by the memory source (the Redis source reports through `tick`). */
  noteQueued(n: number): void {
    this.queued.inc(n);
  }

  noteDropped(n: number): void {
    this.dropped.inc(n);
    this.log.warn({ dropped: n }, 'webhook queue full: oldest presence events dropped (WEBHOOK_QUEUE_MAX)');
  }

  /** What `/healthz` may add to its body; never a reason to go red. */
  status(): { lastError?: string } {
    const e = this.sender.lastError;
    return e === undefined ? {} : { lastError: e };
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      const n = await this.source.tick();
      if (n.queued > 0) this.queued.inc(n.queued);
      if (n.dropped > 0) this.noteDropped(n.dropped);
    } catch (err) {
      this.log.debug({ err }, 'webhook tick failed; retrying');
    } finally {
      this.ticking = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.sender.close();
    await this.source.queue.close();
  }
}
