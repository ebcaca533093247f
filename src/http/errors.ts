import type { ErrorRequestHandler, Response } from 'express';
import { SsePushError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Writes the contract's JSON error body. Never includes a stack trace. */
export function sendError(res: Response, err: SsePushError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err.status === 401) {
    const code = err.code === 'missing_token' ? 'invalid_request' : 'invalid_token';
    res.set('WWW-Authenticate', `Bearer error="${code}"`);
  }
  if (err.status === 503) res.set('Retry-After', '1');
  res.status(err.status).json({ error: err.code, message: err.detail });
}

interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/** Maps body-parser failures to the contract's statuses. */
function fromBodyParser(e: BodyParserError): SsePushError | undefined {
  switch (e.type) {
    case 'entity.too.large':
      return new SsePushError('too_large', 'request body is larger than MAX_BODY_BYTES', 413);
    case 'entity.parse.failed':
      return new SsePushError('bad_json', 'request body is not valid JSON', 400);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new SsePushError('unsupported_media_type', e.message ?? 'unsupported encoding', 415);
    case 'parameters.too.many':
      return new SsePushError('bad_request', 'too many form parameters', 413);
    case 'request.aborted':
      return new SsePushError('bad_request', 'request aborted', 400);
    default:
      return undefined;
  }
}

/** The last middleware: every error becomes a JSON answer; unexpected ones are logged as errors. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof SsePushError) return sendError(res, err);
    const mapped =
      typeof err === 'object' && err !== null ? fromBodyParser(err as BodyParserError) : undefined;
    if (mapped) return sendError(res, mapped);
    log.error({ err }, 'unhandled error');
    sendError(res, new SsePushError('internal', 'internal server error', 500));
  };
}
