import { closedError } from './errors.js';
import { DEFAULT_WEBHOOK_QUEUE_MAX, type WebhookQueue } from './webhook-queue.js';
import type { WebhookEvent } from './webhook-signature.js';

/** One process's webhook queue: an array with a moving head, bounded by `max` events. */
export class MemoryWebhookQueue implements WebhookQueue {
  private events: WebhookEvent[] = [];
  private head = 0;
  private closed = false;

  constructor(private readonly max = DEFAULT_WEBHOOK_QUEUE_MAX) {}

  async push(events: readonly WebhookEvent[]): Promise<number> {
    if (this.closed) throw closedError('webhook queue');
    for (const e of events) this.events.push(e);
    const over = this.events.length - this.head - this.max;
    if (over > 0) this.head += over;
    this.compact();
    return Math.max(0, over);
  }

  async peek(max: number): Promise<WebhookEvent[]> {
    if (this.closed) throw closedError('webhook queue');
    return this.events.slice(this.head, this.head + max);
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (this.closed) throw closedError('webhook queue');
    const done = new Set(ids);
    while (this.head < this.events.length && done.has(this.events[this.head]!.id)) this.head++;
    this.compact();
  }

  async size(): Promise<number> {
    return this.events.length - this.head;
  }

  async lease(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.events = [];
    this.head = 0;
  }

  /** Drops the acknowledged head once it is most of the array (amortised O(1) per event). */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}
