/** Helpers for backend-control tests (`POST /disconnect`, scopes): tokens and calls. */
import jwt from 'jsonwebtoken';
import { TEST_SECRET } from './helpers.js';

/** A publisher token with the given scope claim (default `control`). */
export function scopedToken(scope: string | string[] = 'control'): string {
  return jwt.sign({ scope }, TEST_SECRET, { algorithm: 'HS256' });
}

/** A subscriber token for `sub` with an explicit `iat` (seconds), or none at all with `null`. */
export function subTokenAt(sub: string, iat: number | null, groups?: string[]): string {
  const payload: Record<string, unknown> = { sub, ...(groups ? { groups } : {}) };
  if (iat === null) return jwt.sign(payload, TEST_SECRET, { algorithm: 'HS256', noTimestamp: true });
  return jwt.sign({ ...payload, iat }, TEST_SECRET, { algorithm: 'HS256' });
}

const CONTROL = scopedToken();

/** `POST /disconnect` on a node; resolves with status and parsed JSON body. */
export async function disconnect(
  node: { url: string },
  body: unknown,
  token = CONTROL,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.url}/disconnect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Connections of `uid` as `GET /online` on `node` reports them. */
export async function connectionsOf(node: { url: string }, uid: string): Promise<number> {
  const res = await fetch(`${node.url}/online?uid=${encodeURIComponent(uid)}`, {
    headers: { authorization: `Bearer ${CONTROL}` },
  });
  const body = (await res.json()) as { online: Record<string, number> };
  return body.online[uid] ?? 0;
}

/** Polls `f` every 20 ms until true, or fails after `ms` (a wait, never a timed assertion). */
export async function until(
  f: () => Promise<boolean> | boolean,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads a whole SSE response as text, until the server ends it. */
export async function readStream(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
  return await res.text();
}
