/**
 * The Node client's one way to the server: a JSON request with a publisher token of the scope
 * the call needs, a total timeout, and every failure turned into a `PushError` (HTTP status and
 * server code, or `connection_failed` / `timeout` / `bad_response` when no usable answer came).
 */
import type { Tokens } from './client-tokens.js';
import { isRecord, type Name, type OnlineResult, PushError, type Scope } from './client-types.js';

const DEFAULT_TIMEOUT_MS = 5000;

/** `path` with `params` as its query string (repeated names allowed). */
export function withQuery(path: string, params: [string, Name][]): string {
  const q = new URLSearchParams(params.map(([k, v]): [string, string] => [k, String(v)]));
  return params.length > 0 ? `${path}?${q}` : path;
}

export class Transport {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(
    baseUrl: string,
    private readonly tokens: Tokens,
    options: { timeoutMs?: number | undefined; fetch?: typeof fetch | undefined },
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** One call; resolves with the parsed JSON of a 2xx answer. */
  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotencyKey?: string,
    scope: Scope = 'push',
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.tokens.publisher(scope)}`,
      accept: 'application/json',
    };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new PushError(
          0,
          'timeout',
          `${method} ${this.base}${path} took longer than ${this.timeoutMs} ms`,
        );
      }
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new PushError(0, 'connection_failed', `cannot reach ${this.base}${cause}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PushError(res.status, 'bad_response', `HTTP ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const code = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : 'http_error';
      const msg =
        isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : `HTTP ${res.status}`;
      throw new PushError(res.status, code, `${msg} (HTTP ${res.status} ${code})`);
    }
    return parsed;
  }

  /** A call answered with `{uids, connections, …}` (presence reads, control calls). */
  async counted(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    scope: Scope = 'push',
  ): Promise<OnlineResult> {
    const r = await this.request(method, path, body, undefined, scope);
    if (!isRecord(r) || typeof r.uids !== 'number' || typeof r.connections !== 'number') {
      throw new PushError(200, 'bad_response', `unexpected answer to ${method} ${path.split('?')[0]}`);
    }
    return r as unknown as OnlineResult;
  }
}
