import type { IncomingMessage, ServerResponse } from 'node:http';
import { SsePushError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * The headers Express's app-level middleware sets on every answer (see `app.ts`), for routes
 * served straight from `node:http`: security headers, then CORS for an allowed origin.
 */
export function commonHeaders(corsOrigins: readonly string[]) {
  const origins = new Set(corsOrigins);
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
  };
}

/** A JSON answer with the headers Express's `res.json` sets. */
export function sendRawJson(res: ServerResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** The contract's JSON error answer, exactly as `errors.ts` sends it through Express. */
export function sendRawError(res: ServerResponse, err: unknown, log: Logger): void {
  let e: SsePushError;
  if (err instanceof SsePushError) e = err;
  else {
    log.error({ err }, 'unhandled error');
    e = new SsePushError('internal', 'internal server error', 500);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e.status === 401) {
    const code = e.code === 'missing_token' ? 'invalid_request' : 'invalid_token';
    res.setHeader('WWW-Authenticate', `Bearer error="${code}"`);
  }
  if (e.status === 503) res.setHeader('Retry-After', '1');
  sendRawJson(res, e.status, JSON.stringify({ error: e.code, message: e.detail }));
}
