import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Auth } from './auth.js';
import type { Broker } from './broker.js';
import { MemoryBroker } from './broker-memory.js';
import { RedisBroker } from './broker-redis.js';
import type { Config } from './config.js';
import { createEdge } from './http/app.js';
import { Hub } from './hub.js';
import type { IdempotencyStore } from './idempotency.js';
import { MemoryIdempotencyStore } from './idempotency-memory.js';
import { RedisIdempotencyStore } from './idempotency-redis.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { type Outbox, startOutbox } from './outbox.js';
import type { WebhookConfig } from './webhook-config.js';
import { memoryWebhookSource, type WebhookSource, Webhooks } from './webhooks.js';

export interface ServerOptions {
  /** A ready broker (tests, Redis mode); defaults to a `MemoryBroker` sized by the config. */
  readonly broker?: Broker;
  readonly logger?: Logger;
}

/** One ssepush server: broker, hub, auth, metrics and the HTTP app, with an explicit lifecycle. */
export class SsePushServer {
  readonly broker: Broker;
  readonly hub: Hub;
  readonly auth: Auth;
  readonly metrics: Metrics;
  readonly http: Server;
  readonly log: Logger;
  /** Presence webhooks, when `WEBHOOK_URL` is set. */
  readonly webhooks: Webhooks | undefined;
  /** `Idempotency-Key` answers: in Redis when the broker is, else in this process. */
  readonly idempotency: IdempotencyStore;
  /** The transactional outbox consumer, once `startOutbox` found `OUTBOX_URL`. */
  private outbox: Outbox | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: Config,
    opts: ServerOptions = {},
  ) {
    this.log = opts.logger ?? createLogger(config.logLevel);
    this.broker =
      opts.broker ??
      new MemoryBroker({
        size: config.historySize,
        ttlMs: config.historyTtlMs,
        maxStreams: config.maxStreams,
        maxBytes: config.maxHistoryBytes,
      });
    const broker = this.broker;
    this.metrics = new Metrics({
      streams: () => this.hub.counts.streams,
      polls: () => this.hub.counts.polls,
      uids: () => this.hub.counts.uids,
      historyStreams: () => broker.stats?.().streams ?? 0,
    });
    const source = config.webhook && webhookSourceFor(this.broker, config.webhook, () => this.webhooks);
    this.hub = new Hub(config, this.broker, this.metrics, this.log, source?.watcher);
    this.webhooks =
      config.webhook && source && new Webhooks(config.webhook, source, this.metrics.registry, this.log);
    this.auth = new Auth(config);
    this.idempotency =
      broker instanceof RedisBroker
        ? new RedisIdempotencyStore({
            client: broker.client,
            prefix: broker.prefix,
            ttlMs: config.idempotencyTtlMs,
            log: this.log,
          })
        : new MemoryIdempotencyStore({ ttlMs: config.idempotencyTtlMs, maxKeys: config.idempotencyMaxKeys });
    // Every request goes through the edge: common headers, CORS, drain check, one handler per route.
    const edge = createEdge({
      config,
      auth: this.auth,
      hub: this.hub,
      metrics: this.metrics,
      log: this.log,
      idempotency: this.idempotency,
      outboxStatus: () => this.outbox?.status(),
    });
    this.http = createHttpServer({ maxHeaderSize: 16 * 1024 }, edge);
    this.http.keepAliveTimeout = 65_000;
    this.http.headersTimeout = 66_000;
    // Long polls and streams outlive the default request timeout only on the response side;
    // requestTimeout bounds receiving the request, which stays useful against slow uploads.
    this.http.requestTimeout = 60_000;
    // Requests Node's parser refuses (head over 16 KiB, malformed, too slow) still get a JSON error.
    this.http.on('clientError', answerClientError);
  }

  /** Listens on the configured (or given) port; resolves with the bound port. */
  async listen(port = this.config.port, host = this.config.host): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    return (this.http.address() as AddressInfo).port;
  }

  /**
   * Starts consuming the outbox when `OUTBOX_URL` is set (call once listening); resolves with the
   * consumer, or undefined without `OUTBOX_URL`. Stopped first by `close()`.
   */
  async startOutbox(): Promise<Outbox | undefined> {
    this.outbox ??= await startOutbox(this.config, this);
    return this.outbox;
  }

  /**
   * Graceful shutdown: new requests get 503, streams end (clients reconnect elsewhere and
   * replay), waiting polls are answered with their cursor, then sockets close. Sockets still
   * open after `SHUTDOWN_TIMEOUT_SECONDS` are cut. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.hub.drain();
    // The outbox stops after its current transaction; a publish refused by the drain leaves its
    // rows for the next consumer (their idempotency keys make that safe).
    const outboxClosed = this.outbox?.close();
    const closed = new Promise<void>((resolve) => {
      if (!this.http.listening) return resolve();
      this.http.close(() => resolve());
    });
    this.http.closeIdleConnections();
    const timer = setTimeout(() => this.http.closeAllConnections(), this.config.shutdownTimeoutSec * 1000);
    timer.unref();
    // Answers already queued get a moment to flush before idle keep-alive sockets are closed.
    const idle = setInterval(() => this.http.closeIdleConnections(), 100);
    idle.unref();
    await closed;
    clearTimeout(timer);
    clearInterval(idle);
    await this.webhooks?.close();
    await outboxClosed;
    await this.idempotency.close();
    await this.hub.close();
    this.metrics.close();
  }
}

/**
 * Where presence transitions come from: a cluster broker records them in its presence (Redis),
 * otherwise this process's own connections do (memory). Found by shape, like cluster abilities.
 */
function webhookSourceFor(
  broker: Broker,
  config: WebhookConfig,
  webhooks: () => Webhooks | undefined,
): WebhookSource {
  const b = broker as Broker & { webhookSource?: (c: WebhookConfig) => WebhookSource };
  if (typeof b.webhookSource === 'function') return b.webhookSource(config);
  return memoryWebhookSource(config, {
    queued: (n) => webhooks()?.noteQueued(n),
    dropped: (n) => webhooks()?.noteDropped(n),
  });
}

/**
 * Answers what Node's HTTP parser refused, as Node would (431, 408 or 400, only while nothing has
 * been written on the socket yet), but with the contract's JSON error body.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const fresh = socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0;
  if (!fresh || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          431,
          'Request Header Fields Too Large',
          'headers_too_large',
          'request line and headers exceed 16 KiB',
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'timeout', 'the request took too long to arrive']
        : [400, 'Bad Request', 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: code, message });
  // The server allows half-open sockets, so ending ours would leave the socket open for as long
  // as the client keeps its side: close it once the answer is flushed, or after a moment if the
  // client does not read it.
  const close = () => socket.destroy();
  setTimeout(close, ANSWER_FLUSH_MS).unref();
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    close,
  );
}

/** How long an answer to a refused request may take to leave before its socket is cut. */
const ANSWER_FLUSH_MS = 5000;
