/**
 * A loopback TCP proxy in front of a test redis-server, so one ssepush node can lose Redis while
 * the others keep it (a network blip of that node alone): `block()` cuts every connection through
 * it and refuses new ones until `unblock()`. `freeze()` leaves the connections through it open but
 * forwards nothing on them any more (a half-open link: no RST ever arrives), while new connections
 * work; `freezeReplies()` does the same to the answers only.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { type SpawnedServer, spawnServer } from '../helpers.js';
import { startRedis, type TestRedis } from '../redis-server.js';

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  /** Connections still forwarding: client side, upstream side. */
  private readonly pairs = new Map<Socket, Socket>();
  private blocked = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no port');
    proxy = new TcpProxy(server, addr.port);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  unblock(): void {
    this.blocked = false;
  }

  /** Stops forwarding on every open connection, without closing any; later ones are forwarded. */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    this.pairs.clear();
  }

  /**
   * Stops forwarding answers on every open connection (requests still reach Redis, nothing comes
   * back), without closing any; later connections are forwarded both ways.
   */
  freezeReplies(): void {
    for (const [client, upstream] of this.pairs) {
      upstream.unpipe(client);
      upstream.pause();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    this.pairs.set(client, upstream);
    client.on('close', () => this.pairs.delete(client));
  }
}

/** A test Redis, a proxy in front of it, node `a` reaching Redis through the proxy, `b` directly. */
export interface ProxiedPair {
  readonly redis: TestRedis;
  readonly proxy: TcpProxy;
  readonly a: SpawnedServer;
  readonly b: SpawnedServer;
  close(): Promise<void>;
}

/** Starts a `ProxiedPair`: `a`'s link to Redis is the one a test cuts or freezes. */
export async function startProxiedPair(): Promise<ProxiedPair> {
  const redis = await startRedis();
  const proxy = await TcpProxy.start(redis.port);
  const [a, b] = await Promise.all([
    spawnServer({ REDIS_URL: proxy.url, HEARTBEAT_SECONDS: '1' }, 60_000),
    spawnServer({ REDIS_URL: redis.url, HEARTBEAT_SECONDS: '1' }, 60_000),
  ]);
  return {
    redis,
    proxy,
    a,
    b,
    async close() {
      await Promise.all([a, b].map((n) => n.stop('SIGKILL')));
      await proxy.close();
      await redis.close();
    },
  };
}
