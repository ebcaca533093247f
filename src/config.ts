import { randomBytes } from 'node:crypto';
import type { Algorithm } from 'jsonwebtoken';
import { type WebhookConfig, webhookConfig } from './webhook-config.js';

/** Configuration, resolved once at start-up from the environment and frozen. */
export interface Config {
  /** TCP port (`PORT`, default 8080; 0 picks a free port). */
  readonly port: number;
  /** Listen address (`HOST`, default 0.0.0.0). */
  readonly host: string;
  /** Subscriber token key: HMAC secret or PEM public key. */
  readonly jwtKey: string;
  /** Publisher token key (`PUBLISHER_JWT_SECRET`), defaults to `jwtKey`. */
  readonly publisherKey: string;
  /** Accepted JWT algorithms (`JWT_ALGORITHMS`); never `none`. */
  readonly jwtAlgorithms: readonly Algorithm[];
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** Seconds of clock skew allowed on `exp`/`nbf` (`JWT_CLOCK_TOLERANCE_SECONDS`, default 5). */
  readonly jwtClockToleranceSec: number;
  /** True when the key was generated at start (no `JWT_SECRET`, not production). */
  readonly demo: boolean;
  /** Milliseconds between heartbeats (`HEARTBEAT_SECONDS`, default 20). */
  readonly heartbeatMs: number;
  /** Reconnect delay suggested to EventSource (`SSE_RETRY_MS`, default 2000). */
  readonly retryMs: number;
  /** Messages kept per stream (`HISTORY_SIZE`, default 100). */
  readonly historySize: number;
  /** Milliseconds a message is kept (`HISTORY_TTL_SECONDS`, default 3600; 0 = no time limit). */
  readonly historyTtlMs: number;
  /** Streams kept (`MAX_STREAMS`, default 100000). */
  readonly maxStreams: number;
  /** Bytes of history kept in memory (`MAX_HISTORY_BYTES`, default 256 MiB). */
  readonly maxHistoryBytes: number;
  /** Bytes of one message's JSON data (`MAX_MESSAGE_BYTES`, default 65536). */
  readonly maxMessageBytes: number;
  /** Request body bytes (`MAX_BODY_BYTES`, default 1 MiB). */
  readonly maxBodyBytes: number;
  /** Open streams + waiting polls per uid (`MAX_CONNECTIONS_PER_UID`, default 32; 0 = off). */
  readonly maxConnectionsPerUid: number;
  /** Open streams + waiting polls per process (`MAX_CONNECTIONS`, default 100000; 0 = off). */
  readonly maxConnections: number;
  /** Unsent bytes per connection before it is closed (`MAX_BUFFERED_BYTES`, default 1 MiB). */
  readonly maxBufferedBytes: number;
  /** Groups accepted in one token (`MAX_GROUPS_PER_TOKEN`, default 64). */
  readonly maxGroupsPerToken: number;
  /** Seconds runtime group changes of a uid are kept after its last change (`GROUPS_TTL_SECONDS`, default 86400). */
  readonly groupsTtlSec: number;
  /** Uids with runtime group changes kept (`MAX_RUNTIME_GROUP_UIDS`, default 100000); beyond it a change of a new uid is refused (503). */
  readonly maxRuntimeGroupUids: number;
  /** Length of a token (`MAX_TOKEN_BYTES`, default 8192). */
  readonly maxTokenBytes: number;
  /**
   * Seconds a revocation (`POST /disconnect` with `revoke: true`) refuses older tokens of a uid
   * (`REVOKE_TTL_SECONDS`, default 86400): set it to the longest subscriber token lifetime.
   */
  readonly revokeTtlSec: number;
  /**
   * Uids with a live revocation kept at once (`MAX_REVOCATIONS`, default 100000); a revoke that
   * would pass it is refused with 429 (never an older revocation silently dropped).
   */
  readonly maxRevocations: number;
  /**
   * Seconds a long-poll client that was between two polls when `POST /disconnect` ended its uid
   * is still told on its next poll (`DISCONNECT_NOTICE_SECONDS`, default 30; 0 = off).
   */
  readonly disconnectNoticeSec: number;
  /** Uids holding such a notice at once (`MAX_DISCONNECT_NOTICES`, default 100000); the oldest go first. */
  readonly maxDisconnectNotices: number;
  /** Default long-poll wait in seconds (`POLL_TIMEOUT_SECONDS`, default 25, at most 60). */
  readonly pollTimeoutSec: number;
  /** Seconds a graceful shutdown may take (`SHUTDOWN_TIMEOUT_SECONDS`, default 10). */
  readonly shutdownTimeoutSec: number;
  /**
   * Milliseconds a stream or a poll answer may go without any of its output reaching the client
   * before its socket is closed (`WRITE_STALL_SECONDS`, default 60; a stream's is never below
   * three heartbeats, which are writes too).
   */
  readonly writeStallMs: number;
  /** Origins allowed by CORS (`CORS_ORIGINS`, comma-separated; empty = no CORS). */
  readonly corsOrigins: readonly string[];
  /** Redis URL (`REDIS_URL`); unset = in-memory single process (unless Sentinel is set). */
  readonly redisUrl: string | undefined;
  /** How to reach Redis (URL or Sentinel, credentials, TLS, WAIT); undefined = memory backend. */
  readonly redis: RedisSettings | undefined;
  /** Processes sharing the port on this machine (`WORKERS`, default 1); above 1 needs `REDIS_URL`. */
  readonly workers: number;
  /** Milliseconds an `Idempotency-Key` answer is kept (`IDEMPOTENCY_TTL_SECONDS`, default 86400). */
  readonly idempotencyTtlMs: number;
  /** Keys the memory idempotency store keeps, LRU (`IDEMPOTENCY_MAX_KEYS`, default 100000). */
  readonly idempotencyMaxKeys: number;
  /** Transactional outbox database (`OUTBOX_URL`, mysql:// or postgres://); unset = off. */
  readonly outboxUrl: string | undefined;
  /** Outbox table name (`OUTBOX_TABLE`, default ssepush_outbox). */
  readonly outboxTable: string;
  /** Milliseconds between outbox polls when idle (`OUTBOX_POLL_MS`, default 50). */
  readonly outboxPollMs: number;
  /** pino level (`LOG_LEVEL`, default info). */
  readonly logLevel: string;
  readonly production: boolean;
  /** Presence webhooks (`WEBHOOK_URL` and friends); undefined = off. */
  readonly webhook: WebhookConfig | undefined;
}

/** Where and how to reach Redis; see docs/cluster.md for one page per setup. */
export interface RedisSettings {
  /** `REDIS_URL` (`redis://` or `rediss://`, may carry `user:password@`); undefined with Sentinel. */
  readonly url: string | undefined;
  /** `REDIS_SENTINELS` as host/port pairs; empty = no Sentinel. */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** `REDIS_SENTINEL_NAME`: the monitored primary's name. */
  readonly sentinelName: string | undefined;
  /** `REDIS_SENTINEL_PASSWORD`: password of the sentinels themselves. */
  readonly sentinelPassword: string | undefined;
  /** `REDIS_USERNAME`/`REDIS_PASSWORD`: data-node ACL user and password (override the URL's). */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** TLS to the data nodes: `rediss://`, or `REDIS_TLS=1` with Sentinel. */
  readonly tls: boolean;
  /** `REDIS_TLS_CA`: PEM text of the CA that signed the Redis certificate (private CAs). */
  readonly tlsCa: string | undefined;
  /** `REDIS_WAIT_REPLICAS`: replicas that must have each publish before it is acknowledged (0 = off). */
  readonly waitReplicas: number;
  /** `REDIS_WAIT_TIMEOUT_MS`: how long a publish waits for them before answering 503. */
  readonly waitTimeoutMs: number;
}

/** A bad environment value: the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const SAFE_ALGORITHMS = new Set([
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
]);
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function int(env: Env, name: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Resolves and validates the configuration; throws `ConfigError` naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const secret = env.JWT_SECRET || undefined;
  const publicKey = env.JWT_PUBLIC_KEY || undefined;
  if (secret && publicKey) throw new ConfigError('set JWT_SECRET or JWT_PUBLIC_KEY, not both');
  if (publicKey && !publicKey.includes('-----BEGIN')) {
    throw new ConfigError('JWT_PUBLIC_KEY must hold the PEM text of the public key');
  }
  if (!secret && !publicKey && production) {
    throw new ConfigError('JWT_SECRET (or JWT_PUBLIC_KEY) is required when NODE_ENV=production');
  }
  if (secret && secret.length < 16) throw new ConfigError('JWT_SECRET must be at least 16 characters');
  const publisherSecret = env.PUBLISHER_JWT_SECRET || undefined;
  if (publisherSecret && !secret) {
    // With JWT_PUBLIC_KEY only RS/ES algorithms are accepted, so an HMAC publisher token could
    // never verify; without any key, demo mode would sign demo tokens with it.
    throw new ConfigError(
      publicKey
        ? 'PUBLISHER_JWT_SECRET cannot be combined with JWT_PUBLIC_KEY: publisher tokens are verified with the public key and its algorithms; sign them with your private key and unset PUBLISHER_JWT_SECRET'
        : 'PUBLISHER_JWT_SECRET needs JWT_SECRET: without a configured key the server runs in demo mode, which signs its own tokens and must never hold a real secret',
    );
  }
  const demo = !secret && !publicKey;
  const jwtKey = secret ?? publicKey ?? randomBytes(32).toString('base64url');
  const publisherKey = env.PUBLISHER_JWT_SECRET || jwtKey;
  if (env.PUBLISHER_JWT_SECRET && env.PUBLISHER_JWT_SECRET.length < 16) {
    throw new ConfigError('PUBLISHER_JWT_SECRET must be at least 16 characters');
  }

  const asymmetric = publicKey !== undefined;
  const defaultAlgs = asymmetric ? ['RS256', 'ES256'] : ['HS256'];
  const algs = env.JWT_ALGORITHMS ? list(env.JWT_ALGORITHMS) : defaultAlgs;
  for (const a of algs) {
    if (!SAFE_ALGORITHMS.has(a)) throw new ConfigError(`JWT_ALGORITHMS: "${a}" is not an accepted algorithm`);
    if (asymmetric && a.startsWith('HS')) {
      throw new ConfigError(
        `JWT_ALGORITHMS: "${a}" cannot be used with JWT_PUBLIC_KEY (algorithm confusion)`,
      );
    }
    if (!asymmetric && !a.startsWith('HS')) {
      throw new ConfigError(`JWT_ALGORITHMS: "${a}" needs JWT_PUBLIC_KEY`);
    }
  }
  if (algs.length === 0) throw new ConfigError('JWT_ALGORITHMS must name at least one algorithm');

  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.has(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(', ')}`);
  const corsOrigins = list(env.CORS_ORIGINS);
  for (const o of corsOrigins) {
    if (o === '*') throw new ConfigError('CORS_ORIGINS: "*" is not allowed; list the origins');
    if (!/^https?:\/\/[^/\s]+$/.test(o)) throw new ConfigError(`CORS_ORIGINS: "${o}" is not an origin`);
  }
  const redisUrl = env.REDIS_URL || undefined;
  const redis = redisSettings(env);
  const workers = int(env, 'WORKERS', 1, 1, 64);
  if (workers > 1 && !redis) {
    throw new ConfigError(
      'WORKERS above 1 needs REDIS_URL (or REDIS_SENTINELS): workers share ids, history and fan-out through Redis',
    );
  }

  const outboxUrl = env.OUTBOX_URL || undefined;
  if (outboxUrl && !/^(mysql|mariadb|postgres|postgresql):\/\//.test(outboxUrl)) {
    throw new ConfigError('OUTBOX_URL must start with mysql:// or postgres://');
  }
  const outboxTable = env.OUTBOX_TABLE || 'ssepush_outbox';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,57}$/.test(outboxTable)) {
    throw new ConfigError('OUTBOX_TABLE must be 1-58 of [A-Za-z0-9_], not starting with a digit');
  }

  return Object.freeze({
    port: int(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    jwtKey,
    publisherKey,
    jwtAlgorithms: Object.freeze(algs as Algorithm[]),
    jwtIssuer: env.JWT_ISSUER || undefined,
    jwtAudience: env.JWT_AUDIENCE || undefined,
    jwtClockToleranceSec: int(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 5, 0, 300),
    demo,
    heartbeatMs: int(env, 'HEARTBEAT_SECONDS', 20, 1, 3600) * 1000,
    retryMs: int(env, 'SSE_RETRY_MS', 2000, 100, 600_000),
    historySize: int(env, 'HISTORY_SIZE', 100, 1, 100_000),
    historyTtlMs: int(env, 'HISTORY_TTL_SECONDS', 3600, 0, 30 * 86400) * 1000,
    maxStreams: int(env, 'MAX_STREAMS', 100_000, 1, 100_000_000),
    maxHistoryBytes: int(env, 'MAX_HISTORY_BYTES', 256 * 1024 * 1024, 1024),
    maxMessageBytes: int(env, 'MAX_MESSAGE_BYTES', 65536, 16, 16 * 1024 * 1024),
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxConnectionsPerUid: int(env, 'MAX_CONNECTIONS_PER_UID', 32, 0),
    maxConnections: int(env, 'MAX_CONNECTIONS', 100_000, 0),
    maxBufferedBytes: int(env, 'MAX_BUFFERED_BYTES', 1024 * 1024, 1024),
    maxGroupsPerToken: int(env, 'MAX_GROUPS_PER_TOKEN', 64, 0, 10_000),
    groupsTtlSec: int(env, 'GROUPS_TTL_SECONDS', 86_400, 1, 365 * 86_400),
    maxRuntimeGroupUids: int(env, 'MAX_RUNTIME_GROUP_UIDS', 100_000, 1, 100_000_000),
    maxTokenBytes: int(env, 'MAX_TOKEN_BYTES', 8192, 256, 1024 * 1024),
    revokeTtlSec: int(env, 'REVOKE_TTL_SECONDS', 86_400, 1, 365 * 86_400),
    maxRevocations: int(env, 'MAX_REVOCATIONS', 100_000, 1, 10_000_000),
    disconnectNoticeSec: int(env, 'DISCONNECT_NOTICE_SECONDS', 30, 0, 3600),
    maxDisconnectNotices: int(env, 'MAX_DISCONNECT_NOTICES', 100_000, 1, 10_000_000),
    pollTimeoutSec: int(env, 'POLL_TIMEOUT_SECONDS', 25, 1, 60),
    shutdownTimeoutSec: int(env, 'SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 3600),
    writeStallMs: int(env, 'WRITE_STALL_SECONDS', 60, 1, 3600) * 1000,
    corsOrigins: Object.freeze(corsOrigins),
    redisUrl,
    redis,
    workers,
    idempotencyTtlMs: int(env, 'IDEMPOTENCY_TTL_SECONDS', 86_400, 1, 30 * 86400) * 1000,
    idempotencyMaxKeys: int(env, 'IDEMPOTENCY_MAX_KEYS', 100_000, 1, 100_000_000),
    outboxUrl,
    outboxTable,
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', 50, 5, 60_000),
    logLevel,
    production,
    webhook: webhookConfig(
      env,
      (name, def, min, max) => int(env, name, def, min, max),
      (message) => {
        throw new ConfigError(message);
      },
    ),
  });
}

/**
 * The Redis settings, or undefined for the memory backend. Messages name the variable and never
 * repeat a value that may hold a password.
 */
function redisSettings(env: Env): RedisSettings | undefined {
  const url = env.REDIS_URL || undefined;
  const sentinelList = list(env.REDIS_SENTINELS);
  if (!url && sentinelList.length === 0) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_TLS_CA', 'REDIS_PASSWORD', 'REDIS_WAIT_REPLICAS']) {
      if (env[name]) throw new ConfigError(`${name} needs REDIS_URL or REDIS_SENTINELS`);
    }
    return undefined;
  }
  if (url && sentinelList.length > 0) throw new ConfigError('set REDIS_URL or REDIS_SENTINELS, not both');
  let tls = env.REDIS_TLS === '1' || env.REDIS_TLS === 'true';
  if (env.REDIS_TLS && !tls && env.REDIS_TLS !== '0' && env.REDIS_TLS !== 'false') {
    throw new ConfigError('REDIS_TLS must be 1 or 0');
  }
  if (url) {
    if (!/^rediss?:\/\//.test(url)) throw new ConfigError('REDIS_URL must start with redis:// or rediss://');
    try {
      new URL(url);
    } catch {
      throw new ConfigError('REDIS_URL is not a valid URL (value not shown: it may hold a password)');
    }
    if (tls && url.startsWith('redis://'))
      throw new ConfigError('REDIS_TLS: use a rediss:// REDIS_URL for TLS');
    tls = url.startsWith('rediss://');
  }
  const sentinels = sentinelList.map((hp) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(hp);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(`REDIS_SENTINELS: "${hp}" is not host:port`);
    }
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const sentinelName = env.REDIS_SENTINEL_NAME || undefined;
  if (sentinels.length > 0 && !sentinelName) {
    throw new ConfigError('REDIS_SENTINEL_NAME is required with REDIS_SENTINELS (the monitored primary)');
  }
  if (sentinels.length === 0 && (sentinelName || env.REDIS_SENTINEL_PASSWORD)) {
    throw new ConfigError('REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD need REDIS_SENTINELS');
  }
  const tlsCa = env.REDIS_TLS_CA || undefined;
  if (tlsCa && !tlsCa.includes('-----BEGIN CERTIFICATE')) {
    throw new ConfigError('REDIS_TLS_CA must hold the PEM text of the CA certificate');
  }
  if (tlsCa && !tls) throw new ConfigError('REDIS_TLS_CA needs TLS: a rediss:// REDIS_URL or REDIS_TLS=1');
  return Object.freeze({
    url,
    sentinels: Object.freeze(sentinels),
    sentinelName,
    sentinelPassword: env.REDIS_SENTINEL_PASSWORD || undefined,
    username: env.REDIS_USERNAME || undefined,
    password: env.REDIS_PASSWORD || undefined,
    tls,
    tlsCa,
    waitReplicas: int(env, 'REDIS_WAIT_REPLICAS', 0, 0, 16),
    waitTimeoutMs: int(env, 'REDIS_WAIT_TIMEOUT_MS', 1000, 1, 60_000),
  });
}
