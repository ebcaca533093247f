import type { WebhookEvent } from './webhook-signature.js';

/** Events kept waiting for the receiver by default (`WEBHOOK_QUEUE_MAX`); past it the oldest go. */
export const DEFAULT_WEBHOOK_QUEUE_MAX = 100_000;

/**
 * The outgoing presence events of the deployment, oldest first, waiting for the receiver.
 *
 * Guarantees every implementation keeps (checked by test/contract/webhook-queue-contract.ts):
 * - `push` keeps the order of its calls; `peek` returns the oldest events in that order;
 * - `ack(ids)` removes exactly those events (a prefix that overflow may have shortened
 *   meanwhile); an event is never returned by `peek` again after its ack;
 * - bounded: past `max` events the oldest are dropped, and `push` resolves with how many;
 * - `lease` is held by at most one owner at a time (memory: this process; Redis: the cluster), so
 *   one sender sends, in order, and another takes over within `ms` when it dies;
 * - after `close()` nothing is kept or returned any more. `close()` is idempotent.
 */
export interface WebhookQueue {
  push(events: readonly WebhookEvent[]): Promise<number>;
  peek(max: number): Promise<WebhookEvent[]>;
  ack(ids: readonly string[]): Promise<void>;
  size(): Promise<number>;
  /** Takes or renews the right to send for `ms`; false while another owner holds it. */
  lease(owner: string, ms: number): Promise<boolean>;
  close(): Promise<void>;
}
