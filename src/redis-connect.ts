import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Config, RedisSettings } from './config.js';
import type { Logger } from './logger.js';

/** A command or subscriber client: one Redis (single, Sentinel) or a cluster-mode client. */
export type RedisClient = Redis | Cluster;

/** Which kind of Redis deployment the clients talk to. */
export type RedisKind = 'single' | 'sentinel' | 'cluster';

export interface RedisClients {
  /** Commands and scripts. */
  readonly pub: RedisClient;
  /** The subscription only (a subscribed connection cannot run commands). */
  readonly sub: RedisClient;
  readonly kind: RedisKind;
}

/** How long start-up waits for Redis before it fails. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Reconnect delay: quick at first, at most 2 s between attempts. */
const retryStrategy = (times: number) => Math.min(100 * times, 2000);

/** Options every client gets: fail fast while Redis is down (503) instead of queueing requests. */
const BASE: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy,
  lazyConnect: true,
};

/**
 * How long a connection may leave a command unanswered before it is given up and connected
 * again (ioredis `socketTimeout`). A half-open link (a NAT or firewall forgot it, the host froze)
 * gets no RST: without this a push on it would hang until the kernel gives up (~15 min), and the
 * subscriber connection would look subscribed while nothing arrives.
 *
 * The subscriber connection is pinged (see `RedisSubscription`) and given up after 5 s: wrongly
 * giving it up (Redis stalled that long) costs one catch-up, which is exact. The command
 * connection waits 15 s (plus `REDIS_WAIT_TIMEOUT_MS`, as WAIT blocks that long): ioredis sends a
 * command that was in flight on a lost connection again on the next one, so giving up on a Redis
 * that was only slow could run a publish twice; 15 s is far past any healthy Redis stall.
 */
const SUB_SOCKET_TIMEOUT_MS = 5000;
const PUB_SOCKET_TIMEOUT_MS = 15_000;

/**
 * How long a sentinel may take to name the primary before the next one is asked. Without it a
 * sentinel whose process hangs (its kernel still accepts the connection) holds a reconnecting
 * client forever; sentinels answer in microseconds, so this only skips a stuck one.
 */
const SENTINEL_COMMAND_TIMEOUT_MS = 5000;

/** Clients ended on purpose (`closeClients`): their `end` is final. */
const released = new WeakSet<RedisClient>();

/** `redis://user:***@host:port/db`: the URL with its password masked, for messages and logs. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** TLS options: the private CA when given, else the system CAs; certificates always verified. */
function tlsOptions(s: RedisSettings): ConnectionOptions | undefined {
  if (!s.tls) return undefined;
  return s.tlsCa ? { ca: s.tlsCa } : {};
}

/** Connection options of a data node, from the URL (if any) and the variables that override it. */
function nodeOptions(s: RedisSettings): RedisOptions & { host?: string; port?: number } {
  const o: RedisOptions & { host?: string; port?: number } = { ...BASE };
  if (s.url) {
    const u = new URL(s.url);
    o.host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    o.port = Number(u.port || 6379);
    const db = Number(u.pathname.slice(1) || 0);
    if (Number.isSafeInteger(db) && db > 0) o.db = db;
    if (u.username) o.username = decodeURIComponent(u.username);
    if (u.password) o.password = decodeURIComponent(u.password);
  }
  if (s.username) o.username = s.username;
  if (s.password) o.password = s.password;
  const tls = tlsOptions(s);
  if (tls) o.tls = tls;
  if (s.sentinels.length > 0) {
    o.sentinels = s.sentinels.map((x) => ({ host: x.host, port: x.port }));
    o.name = s.sentinelName ?? '';
    if (s.sentinelPassword) o.sentinelPassword = s.sentinelPassword;
    // TLS (if any) is for the data nodes; the sentinels themselves are asked in plain text.
    if (tls) o.enableTLSForSentinelMode = true;
    o.sentinelRetryStrategy = retryStrategy;
    o.sentinelCommandTimeout = SENTINEL_COMMAND_TIMEOUT_MS;
    // Reconnect at once when the sentinels announce a new primary, not at the next failure. The
    // detector can also end a reconnecting client for good: see `keepConnecting`.
    o.failoverDetector = true;
    // A primary demoted under a live connection answers writes with READONLY: ask the sentinels
    // again rather than failing every publish until something else breaks the connection.
    o.reconnectOnError = (err) => err.message.startsWith('READONLY');
  }
  return o;
}

/**
 * Connects `client` again whenever ioredis gives up on it (status `end`) without being asked.
 * ioredis 5 does that in Sentinel mode with `failoverDetector`: the detector of a connection that
 * broke by itself (a primary killed with -9) keeps listening, and when its `+switch-master`
 * arrives while the client is asking a sentinel for the primary, it aborts that attempt ("Connection
 * is closed"), and a client whose connect fails that way is left in `end`, where it never retries.
 * Under load that window is wide: the node stayed unhealthy for good after a failover, and its
 * streams missed messages. A client ended by `closeClients` stays ended.
 */
function keepConnecting(client: Redis, log?: Logger): void {
  let attempts = 0;
  client.on('ready', () => {
    attempts = 0;
  });
  client.on('end', () => {
    if (released.has(client)) return;
    const delayMs = retryStrategy(++attempts);
    log?.warn(
      { client: client.options.connectionName, delayMs },
      'redis client gave up reconnecting; connecting it again',
    );
    setTimeout(() => {
      if (released.has(client) || client.status !== 'end') return;
      // A failure ends it again (and lands here), or leaves it to ioredis's own retries.
      client.connect().catch(() => {});
    }, delayMs).unref();
  });
}

/** Ends clients for good: QUIT where it can be sent, then the socket; they are not reconnected. */
export async function closeClients(clients: readonly RedisClient[]): Promise<void> {
  for (const c of clients) released.add(c);
  await Promise.allSettled(clients.map((c) => c.quit()));
  for (const c of clients) c.disconnect();
}

/** Where the clients connect, for messages: never the password. */
export function describeTarget(s: RedisSettings): string {
  if (s.url) return `REDIS_URL ${maskUrl(s.url)}`;
  const list = s.sentinels.map((x) => `${x.host}:${x.port}`).join(',');
  return `REDIS_SENTINELS ${list} (primary "${s.sentinelName}")`;
}

/** Connects, or throws one clear message (the last client error, never a password). */
async function connectAll(clients: readonly RedisClient[], target: string, log?: Logger): Promise<void> {
  let lastError = '';
  for (const c of clients) {
    c.on('error', (err: Error) => {
      lastError = err.message;
      // Only the message: ioredis errors carry the failed command, and AUTH's holds the password.
      log?.debug({ err: err.message }, 'redis error');
    });
  }
  // Settle every attempt before giving up: disconnecting a client in mid TLS handshake leaves
  // its socket's next error without a listener (ioredis listens once), which would crash.
  // Sentinel mode retries unreachable sentinels forever: start-up gives up after a bound.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<PromiseSettledResult<void>[]>((resolve) => {
    timer = setTimeout(
      () => resolve([{ status: 'rejected', reason: new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`) }]),
      CONNECT_TIMEOUT_MS,
    );
  });
  const results = await Promise.race([Promise.allSettled(clients.map((c) => c.connect())), timeout]);
  clearTimeout(timer);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    for (const c of clients) c.disconnect();
    const err: unknown = failed.reason;
    const why = lastError || (err instanceof Error ? err.message : String(err));
    throw new Error(`cannot use Redis at ${target}: ${why}`);
  }
}

/** Whether the node behind `probe` runs in cluster mode (`cluster_enabled:1`). */
async function clusterEnabled(probe: Redis): Promise<boolean> {
  const info = await probe.info('cluster');
  return /^cluster_enabled:1\s*$/m.test(info);
}

/**
 * Creates and connects the command and subscriber clients for the configured Redis: a single
 * node, a Sentinel-monitored primary, or (detected at start with `INFO cluster`) a cluster-mode
 * Redis, which gets ioredis `Cluster` clients seeded with the URL's node.
 */
export async function createRedisClients(config: Config, log?: Logger): Promise<RedisClients> {
  const s = config.redis;
  if (!s) throw new Error('REDIS_URL (or REDIS_SENTINELS) is not set');
  const target = describeTarget(s);
  const opts = nodeOptions(s);
  const pubTimeout = PUB_SOCKET_TIMEOUT_MS + s.waitTimeoutMs;
  const pub = new Redis({ ...opts, connectionName: 'ssepush-pub', socketTimeout: pubTimeout });
  const sub = new Redis({
    ...opts,
    connectionName: 'ssepush-sub',
    autoResubscribe: false,
    socketTimeout: SUB_SOCKET_TIMEOUT_MS,
  });
  await connectAll([pub, sub], target, log);
  if (s.sentinels.length > 0) {
    keepConnecting(pub, log);
    keepConnecting(sub, log);
    return { pub, sub, kind: 'sentinel' };
  }
  let cluster: boolean;
  try {
    cluster = await clusterEnabled(pub);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw new Error(`cannot use Redis at ${target}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!cluster) {
    keepConnecting(pub, log);
    keepConnecting(sub, log);
    return { pub, sub, kind: 'single' };
  }
  pub.disconnect();
  log?.info('redis runs in cluster mode; using a cluster client (all ssepush keys in one slot)');
  // Node connections get only credentials and TLS: the cluster client manages their queueing
  // (a node connection without an offline queue could not even ask for the slot map).
  const redisOptions: RedisOptions = {};
  if (opts.username) redisOptions.username = opts.username;
  if (opts.password) redisOptions.password = opts.password;
  if (opts.tls) redisOptions.tls = opts.tls;
  redisOptions.socketTimeout = pubTimeout;
  const clusterOptions: ClusterOptions = {
    redisOptions,
    enableOfflineQueue: false,
    lazyConnect: true,
    clusterRetryStrategy: retryStrategy,
    // Managed clusters announce node addresses a TLS certificate may not name by IP: keep the
    // names the nodes announce instead of resolving them first.
    dnsLookup: (address, callback) => callback(null, address),
  };
  const seed = [{ host: opts.host ?? '127.0.0.1', port: opts.port ?? 6379 }];
  const cpub = new Cluster(seed, clusterOptions);
  try {
    await connectAll([cpub], target, log);
  } catch (err) {
    sub.disconnect();
    throw err;
  }
  // The subscription stays a plain connection to one node (classic pub/sub reaches every node of
  // a cluster). A cluster client would move its subscription to another node silently when that
  // node goes away, so the broker would never learn that live fan-out missed messages; this one
  // closes (the broker resynchronises), and each reconnect tries another node of the cluster.
  sub.options.retryStrategy = (times: number) => {
    moveToAnotherNode(sub, cpub);
    return retryStrategy(times);
  };
  keepConnecting(sub, log);
  return { pub: cpub, sub, kind: 'cluster' };
}

/** Points `sub`'s next connection at another node the cluster client knows (at random). */
function moveToAnotherNode(sub: Redis, cluster: Cluster): void {
  const here = `${sub.options.host}:${sub.options.port}`;
  const others = cluster
    .nodes('all')
    .map((n) => ({ host: n.options.host, port: n.options.port }))
    .filter((a) => `${a.host}:${a.port}` !== here);
  const next = others[Math.floor(Math.random() * others.length)];
  if (!next) return;
  sub.options.host = next.host;
  sub.options.port = next.port;
}
