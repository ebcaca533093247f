import { z } from 'zod';
import type { DisconnectRequest } from './disconnects.js';
import { badRequest } from './errors.js';
import { names } from './push-input.js';

/** Longest `reason` of a disconnect, in characters. */
export const MAX_REASON_LENGTH = 128;
/** What a disconnected client is told when the backend gives no reason. */
export const DEFAULT_REASON = 'disconnected';

const disconnectBody = z
  .object({
    uid: names,
    reason: z.string().max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`).optional(),
    reconnect: z.boolean().optional(),
    revoke: z.boolean().optional(),
  })
  .strict();

/** Validates a `POST /disconnect` body; a 400 names the field. */
export function parseDisconnect(body: unknown): DisconnectRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('body: must be a JSON object');
  if (!('uid' in body)) throw badRequest('uid: is required');
  const r = disconnectBody.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : 'body';
    throw badRequest(`${path}: ${issue?.message ?? 'invalid'}`);
  }
  const d = r.data;
  return {
    uids: [...new Set(d.uid)],
    reason: d.reason ?? DEFAULT_REASON,
    reconnect: d.reconnect ?? true,
    revoke: d.revoke ?? false,
  };
}
