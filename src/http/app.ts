import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { type Auth, mintToken } from '../auth.js';
import type { Config } from '../config.js';
import { methodNotAllowed, notFound, unavailable } from '../errors.js';
import type { Hub } from '../hub.js';
import type { IdempotencyStore } from '../idempotency.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { normalizeName } from '../names.js';
import type { OutboxStatus } from '../outbox.js';
import { errorHandler } from './errors.js';
import { publishRoutes } from './publish.js';
import { subscribeRoutes } from './subscribe.js';

/** The folder served at `/` (demo page, `ssepush.js`). */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

const ROUTES: Record<string, string> = {
  '/events': 'GET',
  '/poll': 'GET',
  '/push': 'POST',
  '/online': 'GET',
  '/healthz': 'GET',
  '/metrics': 'GET',
  '/demo/tokens': 'GET',
};

export interface AppDeps {
  readonly config: Config;
  readonly auth: Auth;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly idempotency: IdempotencyStore;
  /** The outbox consumer's state for `/healthz` (undefined without `OUTBOX_URL`). */
  readonly outboxStatus?: () => OutboxStatus | undefined;
}

function cors(origins: readonly string[]) {
  const allowed = new Set(origins);
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
      res.vary('Origin');
      if (req.method === 'OPTIONS') {
        res.set('Access-Control-Allow-Methods', 'GET, POST');
        res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Last-Event-ID');
        res.set('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
    }
    next();
  };
}

/** Express wiring only: every route translates HTTP into hub, auth or metrics calls. */
export function createApp({ config, auth, hub, metrics, log, idempotency, outboxStatus }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'no-referrer');
    next();
  });
  if (config.corsOrigins.length > 0) app.use(cors(config.corsOrigins));
  app.use((req, _res, next) => {
    if (!hub.isAccepting && req.path !== '/metrics')
      throw unavailable('server is shutting down', 'shutting_down');
    next();
  });

  const router = express.Router();
  subscribeRoutes(router, auth, hub, config.pollTimeoutSec);
  publishRoutes(router, config, auth, hub, metrics, log, idempotency);

  router.get('/healthz', (_req, res) => {
    if (!hub.broker.healthy) {
      res
        .status(503)
        .json({ status: 'unavailable', error: 'backend_unavailable', message: 'backend unreachable' });
      return;
    }
    // The outbox only reports its state: a database outage never takes the push server out.
    const outbox = outboxStatus?.();
    res.json(outbox ? { status: 'ok', outbox: outbox.state } : { status: 'ok' });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Demo tokens exist only without a configured key outside production: the page works out of
  // the box locally, and no publisher token is ever served by a real deployment.
  router.get('/demo/tokens', (req, res) => {
    if (!config.demo) throw notFound();
    const uid = normalizeName(typeof req.query.uid === 'string' ? req.query.uid : 'demo') ?? 'demo';
    const groups = typeof req.query.groups === 'string' ? req.query.groups.split(',').filter(Boolean) : [];
    res.json({
      uid,
      groups,
      subscriber: mintToken(config, { sub: uid, groups, ttlSec: 3600 }),
      publisher: mintToken(config, { push: true, ttlSec: 3600 }),
    });
  });

  app.use(router);
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

  app.use((req, _res) => {
    const allowed = ROUTES[req.path];
    if (allowed && req.method !== allowed && req.method !== 'HEAD') {
      _res.set('Allow', allowed);
      throw methodNotAllowed(`${req.method} is not allowed on ${req.path}; use ${allowed}`);
    }
    throw notFound(`no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(log));
  return app;
}
