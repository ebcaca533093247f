/**
 * Starts a throw-away `redis-server` on a free loopback port with its own temporary directory,
 * for tests that need a real Redis. Without the binary, `redisAvailable()` is false and the
 * suites skip with a reason, except in CI (`CI=true`), where a missing Redis is a failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Whether a `redis-server` binary is on the PATH. */
export function redisAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The reason suites skip, or throws when Redis is required (CI). */
export function redisSkipReason(): string | undefined {
  if (redisAvailable()) return undefined;
  if (process.env.CI === 'true') throw new Error('redis-server is required in CI but was not found');
  return 'redis-server is not installed; Redis tests skipped';
}

export interface RedisServerOptions {
  /** Keep data across restarts (append-only file, fsync always). Default false. */
  readonly persist?: boolean;
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** A new client for test assertions (closed by `stop`). */
  client(): Redis;
  /** Stops the server (SIGTERM) and waits for its exit; `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server for good and removes its directory. */
  close(): Promise<void>;
}

/** A free loopback TCP port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until the server on `port` answers as the process `pid`, not another test's server. */
async function waitForServer(port: number, pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => {});
    let info: string | undefined;
    try {
      await c.connect();
      info = await c.info('server');
    } catch {
      // not up yet
    }
    c.disconnect();
    if (info !== undefined) {
      if (new RegExp(`^process_id:${pid}\\s*$`, 'm').test(info)) return;
      throw new Error(`port ${port} is taken by another redis-server`);
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no --dir <tmp>`. */
export async function startRedis(opts: RedisServerOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ssepush-redis-'));
  let port = await freePort();
  const clients: Redis[] = [];
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
    args.push(
      ...(opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    );
    const p = spawn('redis-server', args, { stdio: 'ignore' });
    proc = p;
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    try {
      await waitForServer(port, p.pid ?? -1, 10_000);
    } catch (err) {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await exited;
      throw err;
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await exited;
  };

  // Another process may take the port between the probe and redis-server's bind: retry on a
  // new port (only here; a restart through `start()` keeps its port).
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
      port = await freePort();
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client() {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    stop,
    start,
    async close() {
      for (const c of clients) c.disconnect();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
