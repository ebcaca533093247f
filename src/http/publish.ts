import type { ServerResponse } from 'node:http';
import type { Auth } from '../auth.js';
import type { Config } from '../config.js';
import { badRequest } from '../errors.js';
import type { Hub, PushResult } from '../hub.js';
import { type IdempotencyStore, parseIdempotencyKey, publishIdempotent } from '../idempotency.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { normalizeName } from '../names.js';
import { type ParsedPush, parseFormPush, parseJsonPush } from '../push-input.js';
import { type Body, readBody } from './body.js';
import { sendError, sendJson } from './errors.js';
import type { Handler } from './route.js';
import { tokenOf } from './token.js';

export interface PublishDeps {
  readonly config: Config;
  readonly auth: Auth;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Where `Idempotency-Key` answers are kept (memory, or Redis with a Redis broker). */
  readonly idempotency: IdempotencyStore;
}

/** A keyed push: the store that keeps its answer, and its `Idempotency-Key`. */
interface Once {
  readonly store: IdempotencyStore;
  readonly key: string;
}

/**
 * `POST /push`: publisher token, then the `Idempotency-Key` (optional, checked before the body is
 * read), then the body (JSON or web-msg-sender's form), then the hub. In memory mode an unkeyed
 * push is answered in the same call as its body's last byte (see `Hub.publishNow`): no promise
 * is made for it anywhere; errors take the same `sendError` the edge would use.
 */
export function pushRoute({ config, auth, hub, metrics, log, idempotency }: PublishDeps): Handler {
  const answer = (res: ServerResponse, body: Body, once: Once | undefined) => {
    const started = performance.now();
    const parsed =
      body.type === 'form'
        ? parseFormPush(body.value, config.maxMessageBytes)
        : parseJsonPush(body.value, config.maxMessageBytes);
    const out = publishParsed(hub, metrics, log, parsed, started, once);
    if (out instanceof Promise) {
      out.then(
        (a) => sendJson(res, 200, JSON.stringify(a)),
        (err: unknown) => sendError(res, err, log),
      );
    } else sendJson(res, 200, JSON.stringify(out));
  };
  return (req, res, query) => {
    auth.publisher(tokenOf({ headers: req.headers, query }));
    const key = parseIdempotencyKey(req.headers['idempotency-key']);
    const once = key === undefined ? undefined : { store: idempotency, key };
    readBody(req, config.maxBodyBytes, (err, body) => {
      try {
        if (err !== undefined || body === undefined) throw err;
        answer(res, body, once);
      } catch (e) {
        sendError(res, e, log);
      }
    });
  };
}

/**
 * `GET /online`: deployment-wide presence, per uid with `?uid=` and per group with `?group=`
 * (publisher token, scope `push` or `control`).
 */
export function onlineRoute(auth: Auth, hub: Hub): Handler {
  return async (req, res, query) => {
    auth.publisher(tokenOf({ headers: req.headers, query }), ['push', 'control']);
    const uids = namesParam(query.uid, 'uid');
    const groups = namesParam(query.group, 'group');
    sendJson(res, 200, JSON.stringify(await hub.clusterOnline(uids, groups)));
  };
}

/** A repeatable query parameter of names, normalized; `undefined` when absent. */
function namesParam(raw: string | string[] | undefined, name: string): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > 1000) throw badRequest(`at most 1000 ${name} parameters`);
  return list.map((u) => {
    const n = normalizeName(u);
    if (n === undefined) throw badRequest(`${name} must be 1-128 characters without control characters`);
    return n;
  });
}

/** The answer to a push: one result, or an array for a batch. */
type Answer = PushResult | PushResult[];

/**
 * Publishes validated messages and logs one line per message (no payload, no token): at once
 * when the hub can (memory mode, no key), else through the broker or the idempotency store.
 */
function publishParsed(
  hub: Hub,
  metrics: Metrics,
  log: Logger,
  parsed: ParsedPush,
  started: number,
  once: Once | undefined,
): Answer | Promise<Answer> {
  if (once) return publishKeyed(hub, metrics, log, parsed, started, once);
  const now = hub.publishNow(parsed.inputs);
  if (now) return published(metrics, log, parsed, started, now);
  return hub.publish(parsed.inputs).then((r) => published(metrics, log, parsed, started, r));
}

async function publishKeyed(
  hub: Hub,
  metrics: Metrics,
  log: Logger,
  parsed: ParsedPush,
  started: number,
  once: Once,
): Promise<Answer> {
  const r = await publishIdempotent(once.store, hub, once.key, parsed.inputs, parsed.batch);
  if (r.replayed) {
    metrics.idempotentReplays.inc();
    log.info({ ids: r.answers.length, first: r.answers[0]?.id }, 'push replayed (Idempotency-Key)');
    return parsed.batch ? r.answers : r.answers[0]!;
  }
  return published(metrics, log, parsed, started, r.answers);
}

/** Records a publish's latency and log lines; returns its answer. */
function published(
  metrics: Metrics,
  log: Logger,
  parsed: ParsedPush,
  started: number,
  results: PushResult[],
): Answer {
  metrics.pushLatency.observe((performance.now() - started) / 1000);
  // No log object per message when its line would not be written (production runs at warn).
  if (!log.isLevelEnabled('info')) return parsed.batch ? results : results[0]!;
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
