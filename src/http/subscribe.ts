import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth, Subscriber } from '../auth.js';
import type { Config } from '../config.js';
import { badRequest } from '../errors.js';
import type { Hub } from '../hub.js';
import { pollJson } from '../message.js';
import { COMMON_HEADERS, sendJson } from './errors.js';
import type { Handler } from './route.js';
import { socketSink } from './socket-sink.js';
import { queryString, resumeIdOf, type TokenSource, tokenOf } from './token.js';

/** Headers of every SSE response, in one place: no caching, no proxy buffering. */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/** The head of an SSE answer as one flat `writeHead` list, the common headers included. */
const SSE_HEAD = [...COMMON_HEADERS, ...Object.entries(SSE_HEADERS).flat()];

/** Longest long-poll wait a client may ask for, in seconds. */
export const MAX_POLL_TIMEOUT_SECONDS = 60;

/**
 * `GET /events`: one SSE stream per request, written through the socket sink. Runs for every
 * stream opened, so it creates no framework objects (see `app.ts`).
 */
export function eventsRoute(auth: Auth, hub: Hub, config: Config): Handler {
  // A stream's heartbeats are writes that complete for a reading client: never cut between them.
  const stallMs = Math.max(config.writeStallMs, 3 * config.heartbeatMs);
  const open = (req: IncomingMessage, res: ServerResponse, r: TokenSource, sub: Subscriber) => {
    hub.admit(sub);
    const resumeId = resumeIdOf(r);
    // A HEAD answer has no body, so it must not become a stream: Node would never even send its
    // head, and the request would hold a connection slot until the client gave up.
    if (req.method === 'HEAD') {
      res.writeHead(200, SSE_HEAD).end();
      return;
    }
    req.socket.setNoDelay(true);
    // A client that stops reading holds a descriptor and up to MAX_BUFFERED_BYTES this long, not
    // forever: the timer restarts whenever a write completes, and when it fires with nobody
    // listening for it, Node destroys the socket.
    req.socket.setTimeout(stallMs);
    res.writeHead(200, SSE_HEAD);
    const conn = hub.openStream(sub, socketSink(res), resumeId);
    res.on('close', () => hub.closeStream(conn));
    if (req.socket.destroyed) hub.closeStream(conn);
  };
  return (req: IncomingMessage, res: ServerResponse, query) => {
    const r = { headers: req.headers, query };
    const token = auth.subscriber(tokenOf(r));
    // After a control-channel gap (Redis mode) the revocations are reloaded first.
    const loading = hub.revocationsLoading();
    if (loading) {
      return loading
        .then(() => hub.checkRevoked(token))
        .then(() => hub.subscriberNow(token))
        .then((sub) => open(req, res, r, sub));
    }
    hub.checkRevoked(token);
    // Memory mode knows the runtime groups now: the stream opens in this call, no promise made.
    const known = hub.subscriberKnown(token);
    if (known) return open(req, res, r, known);
    return hub.subscriberNow(token).then((sub) => open(req, res, r, sub));
  };
}

/** `GET /poll`: a long-poll answered with the messages after the cursor, or at its timeout. */
export function pollRoute(auth: Auth, hub: Hub, config: Config): Handler {
  const defaultPollSec = config.pollTimeoutSec;
  return async (req: IncomingMessage, res: ServerResponse, query) => {
    const r = { headers: req.headers, query };
    const token = auth.subscriber(tokenOf(r));
    const loading = hub.revocationsLoading();
    if (loading) await loading;
    const cursor = queryString(r, 'cursor') || undefined;
    hub.checkRevoked(token, cursor);
    const rawTimeout = queryString(r, 'timeout');
    let timeoutSec = defaultPollSec;
    if (rawTimeout !== undefined) {
      if (!/^\d+(\.\d+)?$/.test(rawTimeout)) throw badRequest('timeout must be a number of seconds');
      timeoutSec = Math.min(Number(rawTimeout), MAX_POLL_TIMEOUT_SECONDS);
    }
    // A fresh poll only learns the position: its groups do not matter, so they are not read.
    const sub = cursor === undefined ? token : await hub.subscriberNow(token);
    if (cursor !== undefined) hub.admit(sub);
    res.setHeader('Cache-Control', 'no-store');
    const cancel = hub.poll(sub, cursor, timeoutSec * 1000, (a) => {
      if (res.writableEnded || res.destroyed) return;
      const tail = `${a.reset ? ',"reset":true' : ''}${a.disconnect ? `,"disconnect":${JSON.stringify(a.disconnect)}` : ''}`;
      const body = `{"messages":[${a.messages.map(pollJson).join(',')}],"cursor":${JSON.stringify(a.cursor)}${tail}}`;
      sendJson(res, 200, body);
      if (res.writableFinished) return;
      // Until its bytes have left, the answer counts against the limits, and its socket is closed
      // if the client stops reading (after finishing, Node sets its keep-alive timeout instead).
      const release = hub.holdAnswer(sub);
      res.once('finish', release);
      res.once('close', release);
      res.socket?.setTimeout(config.writeStallMs);
    });
    res.on('close', cancel);
    if (req.socket.destroyed) cancel();
  };
}
