/**
 * Outbox and idempotency benchmark (issue 17). Real MariaDB and PostgreSQL (test/db-servers.ts),
 * a real redis-server, one in-process ssepush node consuming the outbox, one SSE subscriber.
 *
 * - throughput: `--rows` rows committed in transactions of 100 while the consumer runs; rows/s
 *   from the first commit to the last delivery;
 * - latency: `--samples` single-row transactions, one every 20 ms; commit returned → the SSE
 *   client has the event, p50/p99;
 * - idempotent vs plain `POST /push`: `--pushes` pushes, 16 in flight, memory and Redis mode.
 *
 *   npm run bench:outbox -- [--rows 5000] [--samples 300] [--pushes 5000] [--redis 1]
 */
import { Agent, request } from 'node:http';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createRedisBroker } from '../src/broker-redis.js';
import { type Outbox, outboxSchema } from '../src/outbox.js';
import {
  mariadbSkipReason,
  postgresSkipReason,
  startMariaDb,
  startPostgres,
  type TestDb,
} from '../test/db-servers.js';
import {
  openEvents,
  pubToken,
  type SseClient,
  spawnServer,
  startServer,
  subToken,
  type TestServer,
} from '../test/helpers.js';
import { startRedis, type TestRedis } from '../test/redis-server.js';
import { cpuMicros, fmt, now, parseArgs, pct, sleep } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const ROWS = Number(args.get('rows') ?? 5000);
const SAMPLES = Number(args.get('samples') ?? 300);
const PUSHES = Number(args.get('pushes') ?? 5000);
const WITH_REDIS = (args.get('redis') ?? '1') !== '0';
/** `outbox`, `push` or both (default). */
const ONLY = args.get('only');

async function node(db: TestDb, table: string, redis: TestRedis | undefined) {
  const env = { OUTBOX_URL: db.url, OUTBOX_TABLE: table, ...(redis ? { REDIS_URL: redis.url } : {}) };
  const srv = await startServer(env, redis ? (c) => createRedisBroker(c) : undefined);
  const outbox = (await srv.server.startOutbox()) as Outbox;
  const sse = await openEvents(srv.url, subToken('bench'));
  await sse.waitForId();
  return { srv, outbox, sse };
}

async function table(db: TestDb, name: string): Promise<void> {
  for (const stmt of (await outboxSchema(db.kind, name)).split(';').map((s) => s.trim())) {
    if (stmt) await db.query(stmt);
  }
}

const body = (n: number) => JSON.stringify({ to: 'bench', event: 'n', data: { n } });

/** One open connection of the app: commits rows in one multi-row INSERT; resolves at COMMIT's answer. */
async function appConnection(db: TestDb, t: string) {
  if (db.kind === 'mysql') {
    const c = await mysql.createConnection({ uri: db.url });
    return {
      async commit(bodies: string[]) {
        await c.query('START TRANSACTION');
        await c.query(`INSERT INTO ${t} (body) VALUES ${bodies.map(() => '(?)').join(', ')}`, bodies);
        await c.query('COMMIT');
      },
      close: () => c.end(),
    };
  }
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  return {
    async commit(bodies: string[]) {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO ${t} (body) VALUES ${bodies.map((_, i) => `($${i + 1})`).join(', ')}`,
        bodies,
      );
      await c.query('COMMIT');
    },
    close: () => c.end(),
  };
}

async function throughput(db: TestDb, redis: TestRedis | undefined): Promise<string> {
  const t = `bench_tp_${Date.now()}`;
  await table(db, t);
  const app = await appConnection(db, t);
  // Backlog: rows committed before the consumer starts (how fast it drains).
  for (let i = 0; i < ROWS; i += 100) {
    await app.commit(Array.from({ length: Math.min(100, ROWS - i) }, (_, j) => body(i + j)));
  }
  let started = now();
  const { srv, outbox, sse } = await node(db, t, redis);
  await sse.waitForEvents(ROWS, 300_000);
  const drain = now() - started;
  // Live: rows committed in transactions of 100 while the consumer runs.
  started = now();
  for (let i = ROWS; i < 2 * ROWS; i += 100) {
    await app.commit(Array.from({ length: Math.min(100, 2 * ROWS - i) }, (_, j) => body(i + j)));
  }
  const committed = now() - started;
  await sse.waitForEvents(2 * ROWS, 300_000);
  const total = now() - started;
  const ok = sse.events.every((e, i) => (JSON.parse(e.data) as { n: number }).n === i);
  await app.close();
  await close(srv, outbox, sse);
  return (
    `backlog of ${ROWS} rows drained at ${Math.round(ROWS / (drain / 1000))} rows/s (server start included); ` +
    `${ROWS} rows committed live in ${fmt(committed / 1000)} s, all delivered after ${fmt(total / 1000)} s = ` +
    `${Math.round(ROWS / (total / 1000))} rows/s end to end (every row once, in order: ${ok})`
  );
}

async function latency(db: TestDb, redis: TestRedis | undefined): Promise<string> {
  const t = `bench_lat_${Date.now()}`;
  await table(db, t);
  const { srv, outbox, sse } = await node(db, t, redis);
  const app = await appConnection(db, t);
  const committedAt: number[] = [];
  const arrived: number[] = [];
  const seen = () => {
    while (arrived.length < sse.events.length) arrived.push(now());
  };
  const watcher = setInterval(seen, 1);
  for (let i = 0; i < SAMPLES; i++) {
    await app.commit([body(i)]);
    committedAt.push(now());
    await sleep(20);
  }
  await sse.waitForEvents(SAMPLES, 60_000);
  seen();
  clearInterval(watcher);
  const lat = committedAt.map((c, i) => arrived[i]! - c).sort((a, b) => a - b);
  await app.close();
  await close(srv, outbox, sse);
  return `commit → delivery over ${SAMPLES} single-row transactions: p50 ${fmt(pct(lat, 50))} ms, p99 ${fmt(pct(lat, 99))} ms, max ${fmt(lat[lat.length - 1]!)} ms`;
}

async function close(srv: TestServer, outbox: Outbox, sse: SseClient): Promise<void> {
  sse.close();
  await outbox.close();
  await srv.close();
}

/** One POST /push over a keep-alive agent, head and body in one write (fetch splits them). */
function post(url: URL, agent: Agent, headers: Record<string, string>, payload: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/push', method: 'POST', agent, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** `PUSHES` pushes, 16 in flight; each with a fresh key when `keyed`. Returns the server's CPU µs per push. */
async function pushCost(base: string, pid: number, keyed: boolean): Promise<number> {
  const token = pubToken();
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  const run = `${Date.now()}`;
  const lane = async () => {
    while (next < PUSHES) {
      const i = next++;
      const payload = JSON.stringify({ to: 'nobody', data: { i } });
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
      };
      if (keyed) headers['idempotency-key'] = `bench-${run}-${i}`;
      const status = await post(url, agent, headers, payload);
      if (status !== 200) throw new Error(`push answered ${status}`);
    }
  };
  const cpu0 = cpuMicros(pid);
  await Promise.all(Array.from({ length: 16 }, lane));
  const cpu = cpuMicros(pid) - cpu0;
  agent.destroy();
  return cpu / PUSHES;
}

/**
 * Server CPU per push, plain vs with a fresh Idempotency-Key, on a spawned server (its own
 * process, so the figure is the server's alone and holds on a loaded machine).
 */
async function idempotencyCost(redis: TestRedis | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const mode of redis ? ['memory', 'redis'] : ['memory']) {
    const srv = await spawnServer({
      LOG_LEVEL: 'info',
      ...(mode === 'redis' ? { REDIS_URL: redis!.url } : {}),
    });
    try {
      await pushCost(srv.url, srv.proc.pid!, false); // warm-up
      const plain: number[] = [];
      const keyed: number[] = [];
      for (let r = 0; r < 3; r++) {
        plain.push(await pushCost(srv.url, srv.proc.pid!, false));
        keyed.push(await pushCost(srv.url, srv.proc.pid!, true));
      }
      const m = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
      out.push(
        `${mode}: server CPU per push ${Math.round(m(plain))} µs plain, ${Math.round(m(keyed))} µs with Idempotency-Key (+${Math.round(m(keyed) - m(plain))} µs; median of 3 runs of ${PUSHES}, 16 in flight)`,
      );
    } finally {
      await srv.stop();
    }
  }
  return out;
}

async function main(): Promise<void> {
  const redis = WITH_REDIS ? await startRedis() : undefined;
  const report: string[] = [`# bench/outbox.ts (${new Date().toISOString()})`];
  for (const [name, start, skip] of ONLY === 'push'
    ? []
    : ([
        ['MariaDB', startMariaDb, mariadbSkipReason()],
        ['PostgreSQL', startPostgres, postgresSkipReason()],
      ] as const)) {
    if (skip) {
      report.push(`${name}: skipped (${skip})`);
      continue;
    }
    const db = await start();
    try {
      for (const r of redis ? [undefined, redis] : [undefined]) {
        const mode = r ? 'Redis mode' : 'memory mode';
        report.push(`${name}, one node, ${mode}: ${await throughput(db, r)}`);
        report.push(`${name}, one node, ${mode}: ${await latency(db, r)}`);
        process.stdout.write(`${report.slice(-2).join('\n')}\n`);
      }
    } finally {
      await db.close();
    }
  }
  if (ONLY !== 'outbox') report.push(...(await idempotencyCost(redis)));
  await redis?.close();
  process.stdout.write(`\n${report.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
