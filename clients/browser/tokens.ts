/**
 * The subscriber token: the one given, or the one `getToken()` returns, fetched once for any
 * number of concurrent callers and again whenever the server refuses it.
 */

/** A 401 that no token refresh can fix: there is no `getToken`. Stops the client. */
export class AuthError extends Error {
  readonly status = 401;

  constructor(message: string) {
    super(message);
    this.name = 'SsePushAuthError';
  }
}

/** The claims of a JWT that the client reads (unverified). */
export interface Claims {
  sub?: unknown;
  groups?: unknown;
  exp?: unknown;
}

/** The claims of a JWT, unverified: only used to key storage and to notice expiry early. */
export function claimsOf(token: string): Claims {
  try {
    const part = String(token).split('.')[1];
    if (!part) return {};
    const bin = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? (claims as Claims) : {};
  } catch {
    return {};
  }
}

export type GetToken = () => string | Promise<string>;

export class Tokens {
  /** The current token; `undefined` until one is given or fetched (cookie authentication). */
  token: string | undefined;
  private refreshing: Promise<string> | null = null;

  constructor(
    token: unknown,
    private readonly getToken: GetToken | undefined,
  ) {
    this.token = typeof token === 'string' && token ? token : undefined;
  }

  /** The current token, asking `getToken()` the first time when none was given. */
  async now(): Promise<string | undefined> {
    if (this.token || typeof this.getToken !== 'function') return this.token;
    return this.refresh();
  }

  /** Calls `getToken()` once for any number of concurrent callers. */
  refresh(): Promise<string> {
    const getToken = this.getToken;
    if (typeof getToken !== 'function') {
      return Promise.reject(
        new AuthError('ssepush: the server refused the token (401) and no getToken was given'),
      );
    }
    if (!this.refreshing) {
      this.refreshing = Promise.resolve()
        .then(() => getToken())
        .then((t) => {
          if (typeof t !== 'string' || t === '')
            throw new Error('ssepush: getToken() must resolve to a token');
          this.token = t;
          return t;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** True when the token's own `exp` has passed (a hint only; the server decides). */
  expired(): boolean {
    if (!this.token || typeof this.getToken !== 'function') return false;
    const exp = claimsOf(this.token).exp;
    return typeof exp === 'number' && exp * 1000 <= Date.now();
  }
}
