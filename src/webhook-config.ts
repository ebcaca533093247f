import { DEFAULT_OFFLINE_GRACE_SECONDS } from './presence-transitions.js';
import { DEFAULT_WEBHOOK_QUEUE_MAX } from './webhook-queue.js';

/** Presence webhooks, resolved once at start-up; absent when `WEBHOOK_URL` is not set. */
export interface WebhookConfig {
  /** Where events are POSTed (`WEBHOOK_URL`, http or https). */
  readonly url: string;
  /** HMAC key of the `SsePush-Signature` header (`WEBHOOK_SECRET`, at least 16 characters). */
  readonly secret: string;
  /** Milliseconds without any connection before a uid goes offline (`OFFLINE_GRACE_SECONDS`, default 10). */
  readonly offlineGraceMs: number;
  /** Events kept waiting for the receiver (`WEBHOOK_QUEUE_MAX`, default 100000); the oldest go first. */
  readonly queueMax: number;
}

type Env = Record<string, string | undefined>;

/** A bad value: the message names the variable (the caller wraps it in its ConfigError). */
export function webhookConfig(
  env: Env,
  int: (name: string, def: number, min: number, max: number) => number,
  fail: (message: string) => never,
): WebhookConfig | undefined {
  const raw = env.WEBHOOK_URL?.trim();
  if (!raw) {
    for (const v of ['WEBHOOK_SECRET', 'OFFLINE_GRACE_SECONDS', 'WEBHOOK_QUEUE_MAX']) {
      if (env[v]) fail(`${v} is set but WEBHOOK_URL is not: set WEBHOOK_URL to receive presence webhooks`);
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(`WEBHOOK_URL is not a URL: "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`WEBHOOK_URL must be an http:// or https:// URL, got "${url.protocol}"`);
  }
  if (url.username || url.password) fail('WEBHOOK_URL must not carry credentials; events are signed instead');
  const secret = env.WEBHOOK_SECRET ?? '';
  // Required everywhere, not only in production: an unsigned event could be forged by anyone who
  // can reach the receiver, and a receiver written against dev events must verify the same way.
  if (!secret) fail('WEBHOOK_SECRET is required with WEBHOOK_URL: events are signed with it');
  if (secret.length < 16) fail('WEBHOOK_SECRET must be at least 16 characters');
  return Object.freeze({
    url: url.toString(),
    secret,
    offlineGraceMs: int('OFFLINE_GRACE_SECONDS', DEFAULT_OFFLINE_GRACE_SECONDS, 0, 3600) * 1000,
    queueMax: int('WEBHOOK_QUEUE_MAX', DEFAULT_WEBHOOK_QUEUE_MAX, 100, 10_000_000),
  });
}
