import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Auth } from '../auth.js';
import type { Config } from '../config.js';
import { badRequest, unsupportedMedia } from '../errors.js';
import type { Hub, PushResult } from '../hub.js';
import { type IdempotencyStore, parseIdempotencyKey, publishIdempotent } from '../idempotency.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { normalizeName } from '../names.js';
import { type ParsedPush, parseFormPush, parseJsonPush } from '../push-input.js';
import { tokenOf } from './token.js';

/** `POST /push` and `GET /online`: the publisher's side, behind a `push`-scoped token. */
export function publishRoutes(
  router: Router,
  config: Config,
  auth: Auth,
  hub: Hub,
  metrics: Metrics,
  log: Logger,
  idempotency: IdempotencyStore,
) {
  const requirePublisher = (req: Request, _res: Response, next: NextFunction) => {
    auth.publisher(tokenOf(req));
    next();
  };
  const limit = config.maxBodyBytes;
  const json = express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] });
  const form = express.urlencoded({ limit, extended: false, parameterLimit: 100 });

  router.post(
    '/push',
    requirePublisher,
    (req, _res, next) => {
      if (!req.is(['application/json', 'application/*+json', 'application/x-www-form-urlencoded'])) {
        throw unsupportedMedia('send application/json or application/x-www-form-urlencoded');
      }
      next();
    },
    json,
    form,
    async (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const isForm = req.is('application/x-www-form-urlencoded') !== false;
      const parsed = isForm
        ? parseFormPush(req.body, config.maxMessageBytes)
        : parseJsonPush(req.body, config.maxMessageBytes);
      const once = key === undefined ? undefined : { store: idempotency, key };
      res.json(await publishParsed(hub, metrics, log, parsed, started, once));
    },
  );

  router.get('/online', requirePublisher, async (req: Request, res: Response) => {
    const raw = req.query.uid;
    if (raw === undefined) {
      res.json(await hub.clusterOnline());
      return;
    }
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length > 1000) throw badRequest('at most 1000 uid parameters');
    const uids = list.map((u) => {
      const n = normalizeName(u);
      if (n === undefined) throw badRequest('uid must be 1-128 characters without control characters');
      return n;
    });
    res.json(await hub.clusterOnline(uids));
  });
}

/**
 * Publishes validated messages and logs one line per message (no payload, no token). Shared by
 * the Express route and the plain `node:http` fast path, so both answer and log alike.
 */
export async function publishParsed(
  hub: Hub,
  metrics: Metrics,
  log: Logger,
  parsed: ParsedPush,
  started: bigint,
  once?: { readonly store: IdempotencyStore; readonly key: string },
): Promise<PushResult | PushResult[]> {
  let results: PushResult[];
  if (once) {
    const r = await publishIdempotent(once.store, hub, once.key, parsed.inputs, parsed.batch);
    if (r.replayed) {
      metrics.idempotentReplays.inc();
      log.info({ ids: r.answers.length, first: r.answers[0]?.id }, 'push replayed (Idempotency-Key)');
      return parsed.batch ? r.answers : r.answers[0]!;
    }
    results = r.answers;
  } else results = await hub.publish(parsed.inputs);
  metrics.pushLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
  for (const [i, r] of results.entries()) {
    const input = parsed.inputs[i]!;
    log.info(
      {
        id: r.id,
        event: input.event,
        to: input.to.length,
        groups: input.groups.length,
        delivered: r.delivered,
      },
      'push',
    );
  }
  return parsed.batch ? results : results[0]!;
}
