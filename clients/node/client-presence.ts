/**
 * Presence reads from the Node client (publisher token with `push` or `control`): totals and
 * per-uid counts (`GET /online`), per-group counts, and the online uids walked page by page
 * (`GET /online/uids`).
 */
import { type Transport, withQuery } from './client-transport.js';
import { type Counts, isRecord, type Name, type OnlineResult, PushError } from './client-types.js';

/** `GET /online`, with `?uid=` for each uid asked. */
export function online(t: Transport, uids: Name[]): Promise<OnlineResult> {
  return t.counted(
    'GET',
    withQuery(
      '/online',
      uids.map((u) => ['uid', u]),
    ),
  );
}

/** `GET /online?group=…`: the counts per group asked. */
export async function groupCounts(t: Transport, groups: Name[]): Promise<Record<string, Counts>> {
  if (groups.length === 0) return {};
  const r = await t.counted(
    'GET',
    withQuery(
      '/online',
      groups.map((g) => ['group', g]),
    ),
  );
  if (!isRecord(r.groups))
    throw new PushError(200, 'bad_response', 'unexpected answer to GET /online?group=');
  return r.groups;
}

/** Every online uid (of `group`), one page of `pageSize` at a time as the loop asks. */
export async function* onlineUids(
  t: Transport,
  group: Name | undefined,
  pageSize: number,
): AsyncGenerator<string, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new RangeError('ssepush: pageSize must be 1-1000');
  }
  let cursor: string | null = null;
  do {
    const q: [string, Name][] = [['limit', pageSize]];
    if (group !== undefined) q.push(['group', group]);
    if (cursor !== null) q.push(['cursor', cursor]);
    const page = await t.request('GET', withQuery('/online/uids', q));
    if (!isRecord(page) || !Array.isArray(page.uids) || !('cursor' in page)) {
      throw new PushError(200, 'bad_response', 'unexpected answer to GET /online/uids');
    }
    for (const uid of page.uids) yield String(uid);
    cursor = typeof page.cursor === 'string' ? page.cursor : null;
  } while (cursor !== null);
}
