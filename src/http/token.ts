import type { IncomingHttpHeaders } from 'node:http';
import { badRequest, unauthorized } from '../errors.js';

const COOKIE = 'ssepush_token';

function fromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return undefined;
}

/** What token lookup reads: an Express request, or a raw `node:http` one with its parsed query. */
export interface TokenSource {
  readonly headers: IncomingHttpHeaders;
  readonly query: Record<string, unknown>;
}

/** The request's token: `Authorization: Bearer`, then `?token=`, then the `ssepush_token` cookie. */
export function tokenOf(req: TokenSource): string {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) throw unauthorized('Authorization header must be "Bearer <token>"');
    return m[1]!;
  }
  const q = req.query.token;
  if (typeof q === 'string' && q !== '') return q;
  if (q !== undefined && typeof q !== 'string') throw unauthorized('token must be given once');
  const c = fromCookie(req.headers.cookie);
  if (c) return c;
  throw unauthorized(
    'a token is required (Authorization: Bearer, ?token= or the ssepush_token cookie)',
    'missing_token',
  );
}

/** A single-valued query string parameter, or `undefined`; repeated values are bad input. */
export function queryString(req: TokenSource, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw badRequest(`query parameter "${name}" must be given once`);
}

/**
 * The resume id of an SSE request: the `Last-Event-ID` header, else `?lastEventId=`. A
 * reconnecting EventSource sends a newer header on its old URL, so the header wins. Never a 4xx
 * (EventSource would give up for good): anything odd, even a repeated parameter, is passed on
 * and the hub answers it with a reset.
 */
export function resumeIdOf(req: TokenSource): string | undefined {
  const raw = req.headers['last-event-id'];
  const header = typeof raw === 'string' ? raw : undefined;
  if (header !== undefined && header !== '') return header;
  const q = req.query.lastEventId;
  if (q === undefined || q === '') return undefined;
  return typeof q === 'string' ? q : JSON.stringify(q);
}
