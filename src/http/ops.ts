import { demoTokens } from '../auth.js';
import type { Config } from '../config.js';
import { notFound } from '../errors.js';
import type { Hub } from '../hub.js';
import type { Metrics } from '../metrics.js';
import { normalizeName } from '../names.js';
import type { OutboxStatus } from '../outbox.js';
import { sendJson } from './errors.js';
import type { Handler } from './route.js';

/**
 * `GET /healthz`: 503 while the backend is unreachable, so a balancer stops sending traffic.
 * `demo` tells the demo page whether `/demo/tokens` exists, so a production page never probes it.
 * With an outbox its state is in the body, never a 503: a database outage does not stop pushes.
 */
export function healthRoute(
  hub: Hub,
  config: Config,
  outboxStatus?: () => OutboxStatus | undefined,
): Handler {
  return (_req, res) => {
    if (!hub.broker.healthy) {
      sendJson(
        res,
        503,
        JSON.stringify({
          status: 'unavailable',
          error: 'backend_unavailable',
          message: 'backend unreachable',
        }),
      );
      return;
    }
    const outbox = outboxStatus?.();
    sendJson(
      res,
      200,
      JSON.stringify({ status: 'ok', demo: config.demo, ...(outbox ? { outbox: outbox.state } : {}) }),
    );
  };
}

/** `GET /metrics`: Prometheus text; answered even while draining. */
export function metricsRoute(metrics: Metrics): Handler {
  return async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  };
}

/**
 * `GET /demo/tokens`: only in demo mode (no configured key, outside production), so the page
 * works out of the box locally and a real deployment never serves a token. Signed only with the
 * key generated at start (see `demoTokens`).
 */
export function demoTokensRoute(config: Config): Handler {
  return (_req, res, query) => {
    if (!config.demo) throw notFound();
    const uid = normalizeName(typeof query.uid === 'string' ? query.uid : 'demo') ?? 'demo';
    const groups = typeof query.groups === 'string' ? query.groups.split(',').filter(Boolean) : [];
    sendJson(res, 200, JSON.stringify({ uid, groups, ...demoTokens(config, uid, groups) }));
  };
}
