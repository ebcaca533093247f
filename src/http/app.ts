import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { badRequest, methodNotAllowed, notFound, unavailable } from '../errors.js';
import type { OutboxStatus } from '../outbox.js';
import { disconnectRoute } from './control.js';
import { COMMON_HEADERS, sendError } from './errors.js';
import { groupsRoute } from './groups.js';
import { demoTokensRoute, healthRoute, metricsRoute } from './ops.js';
import { onlineUidsRoute } from './presence.js';
import { onlineRoute, type PublishDeps, pushRoute } from './publish.js';
import type { Route } from './route.js';
import { eventsRoute, pollRoute } from './subscribe.js';

/** The folder served at `/` (demo page, `ssepush.js`). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** What the edge needs: what the push route needs, and the outbox state for `/healthz`. */
export interface AppDeps extends PublishDeps {
  /** The outbox consumer's state for `/healthz` (undefined without `OUTBOX_URL`). */
  readonly outboxStatus?: () => OutboxStatus | undefined;
}

/** Every API route, by path: one handler each (see `route.ts`). */
export function routeTable(deps: AppDeps): ReadonlyMap<string, Route> {
  const { config, auth, hub, metrics } = deps;
  return new Map<string, Route>([
    ['/events', { method: 'GET', handle: eventsRoute(auth, hub, config), holdsSocket: true, ownsHead: true }],
    ['/poll', { method: 'GET', handle: pollRoute(auth, hub, config), holdsSocket: true }],
    ['/push', { method: 'POST', handle: pushRoute(deps), ownsHead: true }],
    ['/online', { method: 'GET', handle: onlineRoute(auth, hub) }],
    ['/disconnect', { method: 'POST', handle: disconnectRoute(deps) }],
    ['/online/uids', { method: 'GET', handle: onlineUidsRoute(auth, hub) }],
    ['/groups', { method: 'POST', handle: groupsRoute(config, auth, hub) }],
    ['/healthz', { method: 'GET', handle: healthRoute(hub, config, deps.outboxStatus) }],
    ['/metrics', { method: 'GET', handle: metricsRoute(metrics) }],
    ['/demo/tokens', { method: 'GET', handle: demoTokensRoute(config) }],
  ]);
}

/** A path as Express's router matched it: case-insensitive, one trailing slash allowed. */
function routeKey(path: string): string {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return p.toLowerCase();
}

/**
 * The server's request listener, and the one place for what every request goes through: common
 * headers, CORS (answering preflights), the draining check, then the route's handler. API routes
 * are dispatched from a table on `node:http`; only what is left (static files, 404, 405) reaches
 * Express. A stream lives for hours and a push is small: Express's per-request state (prototype
 * swaps, parsed URL, router closures) was a third of a stream's memory and more CPU than a push
 * itself, and a table lets every route run the same way instead of hot routes being copies.
 */
export function createEdge(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, hub, log } = deps;
  const routes = routeTable(deps);
  const app = createApp(deps, routes);
  const origins = new Set(config.corsOrigins);
  const run = (route: Route, req: IncomingMessage, res: ServerResponse, query: string) => {
    try {
      const done = route.handle(req, res, query === '' ? {} : parseQuery(query));
      if (done) done.catch((err: unknown) => sendError(res, err, log));
    } catch (err) {
      sendError(res, err, log);
    }
  };
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const key = routeKey(q < 0 ? url : url.slice(0, q));
    const route = routes.get(key);
    const runs =
      route !== undefined &&
      (req.method === route.method || (req.method === 'HEAD' && route.method === 'GET'));
    if (!(runs && route.ownsHead)) {
      for (let i = 0; i < COMMON_HEADERS.length; i += 2)
        res.setHeader(COMMON_HEADERS[i]!, COMMON_HEADERS[i + 1]!);
    }
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
        res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Last-Event-ID');
        res.setHeader('Access-Control-Max-Age', '600');
        res.statusCode = 204;
        res.end();
        return;
      }
    }
    if (!hub.isAccepting && key !== '/metrics') {
      sendError(res, unavailable('server is shutting down', 'shutting_down'), log);
      return;
    }
    if (!runs) {
      app(req, res);
      return;
    }
    // A request queued behind another on a pipelined socket has no socket of its own yet; one
    // that would wait (a stream, a poll) is refused, so a socket never holds more than one and
    // nothing stays registered for a socket that has closed.
    if (route.holdsSocket && res.socket === null) {
      res.setHeader('Connection', 'close');
      sendError(
        res,
        badRequest('wait for the answer before sending another request on this connection', 'pipelined'),
        log,
      );
      return;
    }
    run(route, req, res, q < 0 ? '' : url.slice(q + 1));
  };
}

/** Express serves what is not an API route: the public folder, then 404 and 405 answers. */
export function createApp({ log }: AppDeps, routes: ReadonlyMap<string, Route>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(
    express.static(PUBLIC_DIR, {
      index: 'index.html',
      setHeaders(res, path) {
        // Type declarations (ssepush.d.ts) would otherwise be served as MPEG transport streams.
        if (path.endsWith('.ts') || path.endsWith('.mts'))
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        if (path.endsWith('.html')) {
          res.setHeader(
            'Content-Security-Policy',
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
          );
          res.setHeader('X-Frame-Options', 'DENY');
        }
      },
    }),
  );
  app.use((req, res) => {
    const route = routes.get(routeKey(req.path));
    if (route && req.method === 'OPTIONS') {
      res.setHeader('Allow', route.method === 'GET' ? 'GET, HEAD' : route.method);
      res.status(204).end();
      return;
    }
    if (route) {
      res.setHeader('Allow', route.method);
      throw methodNotAllowed(`${req.method} is not allowed on ${req.path}; use ${route.method}`);
    }
    throw notFound(`no route for ${req.method} ${req.path}`);
  });
  const errors: ErrorRequestHandler = (err: unknown, _req, res, _next) => sendError(res, err, log);
  app.use(errors);
  return app;
}
