import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth } from '../auth.js';
import { badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { pollJson } from '../message.js';
import { sendJson } from './errors.js';
import type { Handler } from './route.js';
import { socketSink } from './socket-sink.js';
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

/**
 * How long a stream or a poll answer may go without any of its output reaching the client
 * before its socket is closed: a client that stops reading holds a file descriptor and up to
 * MAX_BUFFERED_BYTES for this long, not forever. Progress (any write completing) restarts it;
 * a stream's heartbeat is such a write, so the stall time of a stream is never below three
 * heartbeats.
 */
export const WRITE_STALL_MS = 60_000;

/**
 * `GET /events`: one SSE stream per request, written through the socket sink. Runs for every
 * stream opened, so it creates no framework objects (see `app.ts`).
 */
export function eventsRoute(auth: Auth, hub: Hub, heartbeatMs: number): Handler {
  const stallMs = Math.max(WRITE_STALL_MS, 3 * heartbeatMs);
  return (req: IncomingMessage, res: ServerResponse, query) => {
    const r = { headers: req.headers, query };
    const sub = auth.subscriber(tokenOf(r));
    hub.admit(sub);
    const resumeId = resumeIdOf(r);
    // A HEAD answer has no body, so it must not become a stream: Node would never even send its
    // head, and the request would hold a connection slot until the client gave up.
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEADERS).end();
      return;
    }
    req.socket.setNoDelay(true);
    // Node destroys a socket whose timeout fires when nobody listens for it: a stalled stream.
    req.socket.setTimeout(stallMs);
    res.writeHead(200, SSE_HEADERS);
    const conn = hub.openStream(sub, socketSink(res), resumeId);
    res.on('close', () => hub.closeStream(conn));
    if (req.socket.destroyed) hub.closeStream(conn);
  };
}

/** `GET /poll`: a long-poll answered with the messages after the cursor, or at its timeout. */
export function pollRoute(auth: Auth, hub: Hub, defaultPollSec: number): Handler {
  return (req: IncomingMessage, res: ServerResponse, query) => {
    const r = { headers: req.headers, query };
    const sub = auth.subscriber(tokenOf(r));
    const cursor = queryString(r, 'cursor') || undefined;
    const rawTimeout = queryString(r, 'timeout');
    let timeoutSec = defaultPollSec;
    if (rawTimeout !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(rawTimeout)) throw badRequest('timeout must be a number of seconds');
      timeoutSec = Math.min(Number(rawTimeout), MAX_POLL_TIMEOUT_SECONDS);
    }
    if (cursor !== undefined) hub.admit(sub);
    res.setHeader('Cache-Control', 'no-store');
    const cancel = hub.poll(sub, cursor, timeoutSec * 1000, (a) => {
      if (res.writableEnded || res.destroyed) return;
      const body = `{"messages":[${a.messages.map(pollJson).join(',')}],"cursor":${JSON.stringify(a.cursor)}${a.reset ? ',"reset":true' : ''}}`;
      sendJson(res, 200, body);
      if (res.writableFinished) return;
      // Until its bytes have left, the answer counts against the limits, and its socket is closed
      // if the client stops reading (after finishing, Node sets its keep-alive timeout instead).
      const release = hub.holdAnswer(sub);
      res.once('finish', release);
      res.once('close', release);
      res.socket?.setTimeout(WRITE_STALL_MS);
    });
    res.on('close', cancel);
    if (req.socket.destroyed) cancel();
  };
}
