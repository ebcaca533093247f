import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verifies ssepush presence webhooks (`WEBHOOK_URL`): the `SsePush-Signature` header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` keyed by `WEBHOOK_SECRET`.
 *
 *     import { verifyWebhook } from 'ssepush/client';
 *     const events = verifyWebhook(rawBody, req.headers['ssepush-signature'], secret);
 */

/** Default age (seconds) beyond which a signed request is refused as a replay. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** One presence transition. Deliveries are at least once: dedupe by `id`. */
export interface WebhookEvent {
  readonly id: string;
  readonly type: 'online' | 'offline';
  readonly uid: string;
  /** Milliseconds since the Unix epoch: the first connection (online) or the last disconnect (offline). */
  readonly time: number;
}

/** A webhook request that must not be trusted; the message says why. */
export class WebhookVerifyError extends Error {
  override name = 'WebhookVerifyError';
}

/**
 * Checks a received webhook the way every SDK does (PHP and Python alike): the header
 * parses, its timestamp is within `toleranceSeconds` of now (an old request replayed by someone
 * who recorded it is refused), and one `v1` signature matches in constant time. Returns the
 * events; throws `WebhookVerifyError` otherwise. Pass the raw body bytes, not re-serialized JSON.
 */
export function verifyWebhook(
  rawBody: string | Buffer,
  header: string | undefined | null,
  secret: string,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  nowSeconds = Math.floor(Date.now() / 1000),
): WebhookEvent[] {
  if (!secret) throw new WebhookVerifyError('the webhook secret is empty');
  if (!header) throw new WebhookVerifyError('missing SsePush-Signature header');
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === undefined || sigs.length === 0)
    throw new WebhookVerifyError('malformed SsePush-Signature header');
  if (Math.abs(nowSeconds - t) > toleranceSeconds) {
    throw new WebhookVerifyError('timestamp outside the tolerance (replayed or clock skew)');
  }
  const mac = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
  const expected = Buffer.from(mac, 'hex');
  if (!sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected))) {
    throw new WebhookVerifyError('signature mismatch (is WEBHOOK_SECRET the same on both sides?)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw new WebhookVerifyError('body is not JSON');
  }
  const events = (parsed as { events?: unknown })?.events;
  if (!Array.isArray(events)) throw new WebhookVerifyError('body has no events array');
  return events as WebhookEvent[];
}
