import type { Request, Response, Router } from 'express';
import type { Auth } from '../auth.js';
import { badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { pollJson } from '../message.js';
import { queryString, resumeIdOf, tokenOf } from './token.js';

/** Headers of every SSE response, in one place: no caching, no proxy buffering. */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/** Longest long-poll wait a client may ask for, in seconds. */
export const MAX_POLL_TIMEOUT_SECONDS = 60;

/** `GET /events` (SSE) and `GET /poll` (long-poll): both translate to hub calls. */
export function subscribeRoutes(router: Router, auth: Auth, hub: Hub, defaultPollSec: number): void {
  router.get('/events', (req: Request, res: Response) => {
    const sub = auth.subscriber(tokenOf(req));
    hub.admit(sub);
    const resumeId = resumeIdOf(req);
    // A HEAD answer has no body, so it must not become a stream: Node would never even send its
    // head, and the request would hold a connection slot until the client gave up.
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS).end();
      return;
    }
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.writeHead(200, SSE_HEADERS);
    const conn = hub.openStream(sub, res, resumeId);
    res.on('close', () => hub.closeStream(conn));
    if (req.socket.destroyed) hub.closeStream(conn);
  });

  router.get('/poll', (req: Request, res: Response) => {
    const sub = auth.subscriber(tokenOf(req));
    const cursor = queryString(req, 'cursor') || undefined;
    const rawTimeout = queryString(req, 'timeout');
    let timeoutSec = defaultPollSec;
    if (rawTimeout !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(rawTimeout)) throw badRequest('timeout must be a number of seconds');
      timeoutSec = Math.min(Number(rawTimeout), MAX_POLL_TIMEOUT_SECONDS);
    }
    if (cursor !== undefined) hub.admit(sub);
    res.set('Cache-Control', 'no-store');
    const cancel = hub.poll(sub, cursor, timeoutSec * 1000, (a) => {
      if (res.writableEnded || res.destroyed) return;
      const body = `{"messages":[${a.messages.map(pollJson).join(',')}],"cursor":${JSON.stringify(a.cursor)}${a.reset ? ',"reset":true' : ''}}`;
      res.type('application/json').send(body);
    });
    res.on('close', cancel);
    if (req.socket.destroyed) cancel();
  });
}
