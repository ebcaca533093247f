/**
 * What went wrong, as the core sees it. The edge (`src/http/`) alone turns a kind into an HTTP
 * status and headers, so the hub, brokers and auth stay free of HTTP and testable without a
 * server.
 */
export type ErrorKind =
  | 'bad_input'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'too_large'
  | 'unsupported_media'
  | 'limited'
  | 'unavailable'
  | 'conflict'
  | 'internal';

/** One error class for every expected failure; the message carries the `ssepush:` prefix. */
export class SsePushError extends Error {
  constructor(
    /** The outcome's class, mapped to a status at the edge. */
    readonly kind: ErrorKind,
    /** Stable machine-readable code, sent as `error` in JSON bodies. */
    readonly code: string,
    message: string,
    /** More fields of the JSON error body (never `error` or `message`). */
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(`ssepush: ${message}`);
    this.name = 'SsePushError';
  }

  /** The human text without the `ssepush:` prefix, for JSON bodies. */
  get detail(): string {
    return this.message.replace(/^ssepush: /, '');
  }
}

export const badRequest = (message: string, code = 'bad_request') =>
  new SsePushError('bad_input', code, message);
export const unauthorized = (
  message: string,
  code = 'invalid_token',
  extra?: Readonly<Record<string, unknown>>,
) => new SsePushError('unauthorized', code, message, extra);
export const forbidden = (message: string, code = 'forbidden') =>
  new SsePushError('forbidden', code, message);
export const notFound = (message = 'no such route') => new SsePushError('not_found', 'not_found', message);
export const methodNotAllowed = (message: string) =>
  new SsePushError('method_not_allowed', 'method_not_allowed', message);
export const tooLarge = (message: string, code = 'too_large') => new SsePushError('too_large', code, message);
export const unsupportedMedia = (message: string) =>
  new SsePushError('unsupported_media', 'unsupported_media_type', message);
/** A request that contradicts an earlier one (an `Idempotency-Key` reused with another body). */
export const conflict = (message: string, code = 'conflict') => new SsePushError('conflict', code, message);
export const limited = (message: string) => new SsePushError('limited', 'limit_reached', message);
export const unavailable = (message: string, code = 'unavailable') =>
  new SsePushError('unavailable', code, message);
/** Thrown by any resource used after its `close()`. */
export const closedError = (what: string) => new SsePushError('unavailable', 'closed', `${what} is closed`);
