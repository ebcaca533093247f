import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Auth } from '../auth.js';
import { unavailable } from '../errors.js';
import type { Hub } from '../hub.js';
import type { Logger } from '../logger.js';
import { sendRawError } from './raw.js';
import { SSE_HEADERS } from './subscribe.js';
import { queryString, tokenOf } from './token.js';

export interface RawEventsDeps {
  readonly auth: Auth;
  readonly hub: Hub;
  readonly log: Logger;
}

/**
 * `GET /events` served straight from `node:http`, ahead of Express. A stream lives for hours, and
 * Express's per-request state (prototype swaps, parsed URL, router closures) was a third of its
 * memory and most of the CPU of opening it. Same checks in the same order, same headers and
 * the same JSON errors as the Express route in `subscribe.ts` (which still serves `HEAD` and
 * non-canonical paths such as `/events/`). Returns false for every other request.
 */
export function rawEvents(
  { auth, hub, log }: RawEventsDeps,
  headers: (req: IncomingMessage, res: ServerResponse) => void,
) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== '/events') return false;
    headers(req, res);
    try {
      if (!hub.isAccepting) throw unavailable('server is shutting down', 'shutting_down');
      const r = { headers: req.headers, query: q < 0 ? {} : parseQuery(url.slice(q + 1)) };
      const sub = auth.subscriber(tokenOf(r));
      hub.admit(sub);
      // A reconnecting EventSource sends a newer header on its old URL, so the header wins.
      const raw = req.headers['last-event-id'];
      const header = typeof raw === 'string' ? raw : undefined;
      const resumeId =
        header !== undefined && header !== '' ? header : queryString(r, 'lastEventId') || undefined;
      req.socket.setNoDelay(true);
      req.socket.setTimeout(0);
      res.writeHead(200, SSE_HEADERS);
      const conn = hub.openStream(sub, res, resumeId);
      res.on('close', () => hub.closeStream(conn));
      if (req.socket.destroyed) hub.closeStream(conn);
    } catch (err) {
      sendRawError(res, err, log);
    }
    return true;
  };
}
