import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from './logger.js';
import type { WebhookQueue } from './webhook-queue.js';
import { SIGNATURE_HEADER, signWebhook, type WebhookEvent } from './webhook-signature.js';

/** Most events in one request. */
export const WEBHOOK_BATCH_MAX = 100;
/** A request not answered 2xx within this is a failure (retried). */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Longest wait between retries. */
export const WEBHOOK_BACKOFF_MAX_MS = 30_000;
/** First retry delay; doubles per failure in a row, with jitter. */
export const WEBHOOK_BACKOFF_BASE_MS = 500;
/** How often the sender looks for new events: events go out within about this. */
export const WEBHOOK_INTERVAL_MS = 200;

/** What the sender reports; the server wires these to Prometheus. */
export interface WebhookSenderHooks {
  sent?(events: number, latencyMs: readonly number[]): void;
  retried?(events: number, why: string): void;
}

export interface WebhookSenderOptions {
  readonly url: string;
  readonly secret: string;
  readonly queue: WebhookQueue;
  readonly log?: Logger;
  readonly hooks?: WebhookSenderHooks;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

/**
 * Delivers the queue's events to `WEBHOOK_URL`, at least once and in order: one sender at a time
 * holds the queue's lease; it posts the oldest events (up to 100), signed, and acknowledges them
 * only on a 2xx within the timeout. Anything else (error, timeout, 3xx, 4xx, 5xx) is retried with
 * exponential backoff and jitter, the same events with the same ids. The receiver's answer body is
 * never read, redirects are never followed, and nothing here waits on a push or a connection:
 * a hanging receiver delays presence events, nothing else.
 */
export class WebhookSender {
  private readonly owner = randomBytes(8).toString('hex');
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private running: Promise<void> | undefined;
  /** Ends the request in flight (on close). */
  private abort: (() => void) | undefined;
  /** Whether the last attempt reached a 2xx (for `/healthz` detail; never turns health red). */
  lastError: string | undefined;

  constructor(private readonly opts: WebhookSenderOptions) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.round().then((next) => this.schedule(next));
    }, ms);
    this.timer.unref();
  }

  /** One attempt; resolves with the delay before the next. */
  private async round(): Promise<number> {
    const interval = this.opts.intervalMs ?? WEBHOOK_INTERVAL_MS;
    const q = this.opts.queue;
    let events: WebhookEvent[];
    try {
      if (!(await q.lease(this.owner, (this.opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS) + 5000))) return interval;
      events = await q.peek(WEBHOOK_BATCH_MAX);
    } catch (err) {
      this.opts.log?.debug({ err }, 'webhook queue unavailable');
      return interval * 5;
    }
    if (events.length === 0 || this.closed) return interval;
    const why = await this.post(events);
    if (why === undefined) {
      this.failures = 0;
      this.lastError = undefined;
      try {
        await q.ack(events.map((e) => e.id));
      } catch (err) {
        // Not acknowledged: the events go again (at least once; receivers dedupe by id).
        this.opts.log?.debug({ err }, 'webhook ack failed');
      }
      const now = Date.now();
      this.opts.hooks?.sent?.(
        events.length,
        events.map((e) => now - e.time),
      );
      return 0;
    }
    this.failures++;
    this.lastError = why;
    this.opts.hooks?.retried?.(events.length, why);
    const base = this.opts.backoffBaseMs ?? WEBHOOK_BACKOFF_BASE_MS;
    const cap = this.opts.backoffMaxMs ?? WEBHOOK_BACKOFF_MAX_MS;
    const delay = Math.min(cap, base * 2 ** Math.min(this.failures - 1, 20));
    this.opts.log?.warn({ status: why, events: events.length, retryInMs: delay }, 'webhook delivery failed');
    // Full jitter in the upper half: many nodes restarting together do not retry in lockstep.
    return delay / 2 + Math.random() * (delay / 2);
  }

  /** Posts one batch; resolves with undefined on a 2xx, else with why it failed. */
  private post(events: readonly WebhookEvent[]): Promise<string | undefined> {
    const body = JSON.stringify({ events });
    const url = new URL(this.opts.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let done = false;
      const finish = (why: string | undefined) => {
        if (done) return;
        done = true;
        this.abort = undefined;
        clearTimeout(timer);
        req.destroy();
        resolve(why);
      };
      const req = request(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': 'ssepush-webhook',
          [SIGNATURE_HEADER]: signWebhook(body, this.opts.secret),
        },
      });
      const timer = setTimeout(() => finish('timeout'), this.opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS);
      timer.unref();
      this.abort = () => finish('closed');
      req.on('response', (res) => {
        const s = res.statusCode ?? 0;
        // The body is never read: a huge or endless answer costs nothing.
        finish(s >= 200 && s < 300 ? undefined : String(s));
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'error'));
      req.end(body);
    });
  }

  /** Stops sending; an attempt in flight finishes (its events stay queued unless acknowledged). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort?.();
    await this.running;
  }
}
