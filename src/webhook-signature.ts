import { createHmac } from 'node:crypto';

/**
 * Signing of presence webhooks. Receivers verify with the SDKs: `verifyWebhook` of the Node client
 * (clients/node/webhook.ts), `SsePush\\Webhook::verify` in PHP, `ssepush.webhook.verify` in Python.
 */

/** The header that carries a webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'SsePush-Signature';

/** One presence transition, as the receiver gets it. */
export interface WebhookEvent {
  /** Unique and stable across retries: receivers dedupe by it. */
  readonly id: string;
  readonly type: 'online' | 'offline';
  readonly uid: string;
  /** Milliseconds since the Unix epoch: the first connection (online) or the last disconnect (offline). */
  readonly time: number;
}

/** The signature header value for `body`, signed at `t` (Unix seconds) with `secret`. */
export function signWebhook(body: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

function hmac(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}
