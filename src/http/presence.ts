import type { Auth } from '../auth.js';
import { badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { normalizeName } from '../names.js';
import { sendJson } from './errors.js';
import type { Handler } from './route.js';
import { queryString, tokenOf } from './token.js';

/** Most uids on one page of `GET /online/uids`. */
export const MAX_UID_PAGE = 1000;
/** Uids on a page when `limit` is not given. */
export const DEFAULT_UID_PAGE = 100;

/** The opaque cursor of the page after `uid`: its UTF-8 bytes in base64url. */
export function encodeCursor(uid: string): string {
  return Buffer.from(uid, 'utf8').toString('base64url');
}

/** The uid a cursor continues after; a 400 for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): string {
  const bad = () => badRequest('cursor: not a cursor from a previous /online/uids answer', 'bad_cursor');
  if (!/^[A-Za-z0-9_-]{1,700}$/.test(cursor)) throw bad();
  const uid = normalizeName(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (uid === undefined || encodeCursor(uid) !== cursor) throw bad();
  return uid;
}

/**
 * `GET /online/uids?group=&limit=&cursor=` (publisher token, scope `push` or `control`): one page
 * of the uids online anywhere (or in `group` now), `{"uids": [...], "cursor": next | null}`.
 */
export function onlineUidsRoute(auth: Auth, hub: Hub): Handler {
  return async (req, res, query) => {
    const r = { headers: req.headers, query };
    auth.publisher(tokenOf(r), ['push', 'control']);
    const rawGroup = queryString(r, 'group');
    let group: string | undefined;
    if (rawGroup !== undefined) {
      group = normalizeName(rawGroup);
      if (group === undefined) throw badRequest('group must be 1-128 characters without control characters');
    }
    const rawLimit = queryString(r, 'limit');
    let limit = DEFAULT_UID_PAGE;
    if (rawLimit !== undefined) {
      if (!/^\d{1,7}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MAX_UID_PAGE)
        throw badRequest(`limit must be a whole number from 1 to ${MAX_UID_PAGE}`);
      limit = Number(rawLimit);
    }
    const rawCursor = queryString(r, 'cursor');
    const after = rawCursor === undefined || rawCursor === '' ? undefined : decodeCursor(rawCursor);
    const page = await hub.onlineUids({ group, limit, after });
    const cursor = page.next === undefined ? null : encodeCursor(page.next);
    sendJson(res, 200, JSON.stringify({ uids: page.uids, cursor }));
  };
}
