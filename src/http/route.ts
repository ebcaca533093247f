import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ParsedUrlQuery } from 'node:querystring';

/**
 * One route's whole implementation, written against `node:http`: the edge (`app.ts`) has already
 * set the common headers, answered CORS preflights and refused requests while draining. A thrown
 * or rejected error becomes the JSON error answer.
 */
export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  query: ParsedUrlQuery,
) => void | Promise<void>;

export interface Route {
  /** The method served; a `GET` route also answers `HEAD`. */
  readonly method: 'GET' | 'POST';
  readonly handle: Handler;
  /**
   * True for routes whose answer may wait (streams, long polls): such a request must be the
   * socket's current one, never queued behind another on a pipelined connection, or it would
   * hold its slot for a socket it can no longer answer on.
   */
  readonly holdsSocket?: boolean;
  /**
   * True for routes that answer only through `sendJson`, `sendError` or a head that includes
   * `COMMON_HEADERS`: the edge then sets no header itself, so the answer is one `writeHead`.
   */
  readonly ownsHead?: boolean;
}
