/**
 * Publishing from the Node client: `POST /push` of one message or a batch, with an
 * `Idempotency-Key` when the caller gives one or when retries are on (a retry then reuses the
 * key, so a push whose first attempt did arrive publishes once), and the answer checked.
 */
import { randomBytes } from 'node:crypto';
import type { Transport } from './client-transport.js';
import { isRecord, PushError, type PushMessage, type PushResult } from './client-types.js';

/** How a client retries pushes (its `retries` and `retryDelayMs` options). */
export interface RetryOptions {
  retries?: number | undefined;
  retryDelayMs?: number | undefined;
}

/** Publishes one message and checks the answer. */
export async function sendOne(
  t: Transport,
  retry: RetryOptions,
  message: PushMessage,
  key?: string,
): Promise<PushResult> {
  const body = await pushBody(t, retry, message, key);
  if (!isPushResult(body)) throw new PushError(200, 'bad_response', 'unexpected answer to POST /push');
  return body;
}

/** Publishes a batch (all or none) and checks the answer, one result per message. */
export async function sendBatch(
  t: Transport,
  retry: RetryOptions,
  messages: PushMessage[],
  key?: string,
): Promise<PushResult[]> {
  const body = await pushBody(t, retry, messages, key);
  if (!Array.isArray(body) || !body.every(isPushResult)) {
    throw new PushError(200, 'bad_response', 'unexpected answer to a batch POST /push');
  }
  return body;
}

/** POST /push with the key given, or a fresh one when retries are on; retried with that key. */
async function pushBody(
  t: Transport,
  retry: RetryOptions,
  body: unknown,
  key: string | undefined,
): Promise<unknown> {
  if (key !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(key)) {
    throw new TypeError('ssepush: an idempotency key is 1-128 of [A-Za-z0-9._:-]');
  }
  const retries = Math.max(0, retry.retries ?? 0);
  const k = key ?? (retries > 0 ? randomBytes(16).toString('hex') : undefined);
  const delay = retry.retryDelayMs ?? 200;
  for (let attempt = 0; ; attempt++) {
    try {
      return await t.request('POST', '/push', body, k);
    } catch (err) {
      const again = err instanceof PushError && (err.status === 0 || err.status === 503);
      if (!again || attempt >= retries) throw err;
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, delay * 2 ** attempt)));
  }
}

function isPushResult(v: unknown): v is PushResult {
  return (
    isRecord(v) &&
    typeof v.id === 'string' &&
    typeof v.online === 'boolean' &&
    typeof v.delivered === 'number'
  );
}
