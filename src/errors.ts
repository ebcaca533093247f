/**
 * One error class per outcome the HTTP edge must answer differently. The core throws these;
 * only `src/http/` maps them to status codes, so the hub stays testable without a server.
 */
export class SsePushError extends Error {
  constructor(
    /** Stable machine-readable code, sent as `error` in JSON bodies. */
    readonly code: string,
    message: string,
    /** HTTP status the edge answers with. */
    readonly status: number,
  ) {
    super(`ssepush: ${message}`);
    this.name = 'SsePushError';
  }

  /** The human text without the `ssepush:` prefix, for JSON bodies. */
  get detail(): string {
    return this.message.replace(/^ssepush: /, '');
  }
}

export const badRequest = (message: string, code = 'bad_request') => new SsePushError(code, message, 400);
export const unauthorized = (message: string, code = 'invalid_token') => new SsePushError(code, message, 401);
export const forbidden = (message: string, code = 'forbidden') => new SsePushError(code, message, 403);
export const notFound = (message = 'no such route') => new SsePushError('not_found', message, 404);
export const methodNotAllowed = (message: string) => new SsePushError('method_not_allowed', message, 405);
export const tooLarge = (message: string) => new SsePushError('too_large', message, 413);
export const unsupportedMedia = (message: string) => new SsePushError('unsupported_media_type', message, 415);
export const limited = (message: string) => new SsePushError('limit_reached', message, 429);
export const unavailable = (message: string, code = 'unavailable') => new SsePushError(code, message, 503);
/** Thrown by any resource used after its `close()`. */
export const closedError = (what: string) => new SsePushError('closed', `${what} is closed`, 503);
