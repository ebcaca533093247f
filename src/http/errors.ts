import type { ServerResponse } from 'node:http';
import { type ErrorKind, SsePushError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The one place an error's kind becomes an HTTP status. */
const STATUS: Record<ErrorKind, number> = {
  bad_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media: 415,
  limited: 429,
  internal: 500,
  unavailable: 503,
};

/** The HTTP status an error of `kind` is answered with. */
export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

/**
 * Headers every answer carries, as a flat `writeHead` list. The edge sets them one by one only
 * for routes that do not write them in their own head (see `Route.ownsHead`).
 */
export const COMMON_HEADERS = [
  'X-Content-Type-Options',
  'nosniff',
  'Referrer-Policy',
  'no-referrer',
] as const;

/**
 * A JSON answer with the headers Express's `res.json` would set (and the common ones), in one
 * `writeHead` with a flat list: no header object is built when nothing was set before.
 */
export function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, [
    ...COMMON_HEADERS,
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    Buffer.byteLength(body),
  ]);
  res.end(body);
}

/**
 * Writes the contract's JSON error body for any thrown value: an `SsePushError` by its kind,
 * anything else as a logged `500 internal` that never shows its cause or a stack. After the head
 * has gone out there is no way to answer, so the response is cut.
 */
export function sendError(res: ServerResponse, err: unknown, log: Logger): void {
  let e: SsePushError;
  if (err instanceof SsePushError) e = err;
  else {
    log.error({ err }, 'unhandled error');
    e = new SsePushError('internal', 'internal', 'internal server error');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e.kind === 'unauthorized') {
    const code = e.code === 'missing_token' ? 'invalid_request' : 'invalid_token';
    res.setHeader('WWW-Authenticate', `Bearer error="${code}"`);
  }
  if (e.kind === 'unavailable') res.setHeader('Retry-After', '1');
  sendJson(res, STATUS[e.kind], JSON.stringify({ ...e.extra, error: e.code, message: e.detail }));
}
