import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Auth } from '../auth.js';
import type { Config } from '../config.js';
import { SsePushError, unavailable } from '../errors.js';
import type { Hub } from '../hub.js';
import { type IdempotencyStore, parseIdempotencyKey } from '../idempotency.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { parseJsonPush } from '../push-input.js';
import { publishParsed } from './publish.js';
import { sendRawError, sendRawJson } from './raw.js';
import { tokenOf } from './token.js';

export interface RawPushDeps {
  readonly config: Config;
  readonly auth: Auth;
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly idempotency: IdempotencyStore;
}

/** True for `application/json` with no parameter but `charset=utf-8`: the one form served raw. */
function plainJson(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const semi = ct.indexOf(';');
  if (semi < 0) return ct.trim().toLowerCase() === 'application/json';
  if (ct.slice(0, semi).trim().toLowerCase() !== 'application/json') return false;
  return (
    ct
      .slice(semi + 1)
      .trim()
      .toLowerCase() === 'charset=utf-8'
  );
}

const badJson = () => new SsePushError('bad_json', 'request body is not valid JSON', 400);

/** Body-parser's strict JSON: empty is `{}`, anything but an object or array is invalid. */
function parseStrict(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return {};
  const first = /^[ \t\n\r]*([^ \t\n\r]|$)/.exec(body)?.[1];
  if (first !== '{' && first !== '[') throw badJson();
  try {
    return JSON.parse(body);
  } catch {
    throw badJson();
  }
}

/**
 * `POST /push` with a plain JSON body and a `Content-Length`, served straight from `node:http`
 * ahead of Express, whose routing and body parsing cost more CPU than everything else a push
 * does. Same checks in the same order as the Express route in `publish.ts` (draining, publisher
 * token, body limit, strict JSON as body-parser reads it, validation) and the same answers. Any
 * other content type, charset, encoding or a chunked body returns false and Express serves it.
 */
export function rawPush(
  { config, auth, hub, metrics, log, idempotency }: RawPushDeps,
  headers: (req: IncomingMessage, res: ServerResponse) => void,
) {
  const limit = config.maxBodyBytes;
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== '/push') return false;
    const h = req.headers;
    const lengthHeader = h['content-length'];
    if (
      !plainJson(h['content-type']) ||
      lengthHeader === undefined ||
      h['transfer-encoding'] !== undefined ||
      (h['content-encoding'] !== undefined && h['content-encoding'].toLowerCase() !== 'identity')
    ) {
      return false;
    }
    headers(req, res);
    let once: { store: IdempotencyStore; key: string } | undefined;
    try {
      if (!hub.isAccepting) throw unavailable('server is shutting down', 'shutting_down');
      auth.publisher(tokenOf({ headers: h, query: q < 0 ? {} : parseQuery(url.slice(q + 1)) }));
      const key = parseIdempotencyKey(h['idempotency-key']);
      if (key !== undefined) once = { store: idempotency, key };
    } catch (err) {
      sendRawError(res, err, log);
      return true;
    }
    const answer = async (text: string) => {
      const started = process.hrtime.bigint();
      const parsed = parseJsonPush(parseStrict(text), config.maxMessageBytes);
      sendRawJson(res, 200, JSON.stringify(await publishParsed(hub, metrics, log, parsed, started, once)));
    };
    const length = Number(lengthHeader);
    const chunks: Buffer[] = [];
    let received = 0;
    const tooBig = length > limit;
    req.on('data', (c: Buffer) => {
      received += c.length;
      if (!tooBig) chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) {
        sendRawError(
          res,
          new SsePushError('too_large', 'request body is larger than MAX_BODY_BYTES', 413),
          log,
        );
        return;
      }
      answer(Buffer.concat(chunks, received).toString('utf8')).catch((err: unknown) =>
        sendRawError(res, err, log),
      );
    });
    req.on('error', () => {});
    return true;
  };
}
