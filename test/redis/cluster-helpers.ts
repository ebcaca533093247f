/** Helpers for multi-process cluster tests: N spawned ssepush nodes on one test redis-server. */
import { pubToken, type SpawnedServer, spawnServer } from '../helpers.js';

export interface PushAnswer {
  status: number;
  body: { id?: string; online?: boolean; delivered?: number; error?: string };
}

const PUB = pubToken();

/** POST /push on one node (`headers` adds e.g. an `Idempotency-Key`). */
export async function pushTo(
  node: { url: string },
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<PushAnswer> {
  const res = await fetch(`${node.url}/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PUB}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, body: (await res.json()) as PushAnswer['body'] };
}

/** GET /online?uid=… on one node. */
export async function onlineOn(node: { url: string }, uid: string): Promise<number> {
  const res = await fetch(`${node.url}/online?uid=${encodeURIComponent(uid)}`, {
    headers: { authorization: `Bearer ${PUB}` },
  });
  if (res.status !== 200) throw new Error(`online answered ${res.status}`);
  const body = (await res.json()) as { online: Record<string, number> };
  return body.online[uid] ?? 0;
}

/** Polls `f` every 50 ms until it returns true, or fails after `ms`. */
export async function eventually(
  f: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      if (await f()) return Date.now() - started;
    } catch {
      // not yet
    }
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `n` nodes on `redisUrl` in parallel, each given `startMs` to listen. */
export function spawnNodes(
  n: number,
  redisUrl: string,
  env: Record<string, string> = {},
  startMs = 30_000,
): Promise<SpawnedServer[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      spawnServer({ REDIS_URL: redisUrl, HEARTBEAT_SECONDS: '1', ...env }, startMs),
    ),
  );
}

export async function stopAll(nodes: readonly SpawnedServer[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
}
