/**
 * The transactional outbox against a real database, one suite for MariaDB and PostgreSQL: the
 * app's rows are written in real transactions, ssepush consumes them (in process, or spawned
 * processes on a real Redis for the crash and two-node cases) and an SSE client counts arrivals.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { type Outbox, outboxSchema } from '../../src/outbox.js';
import type { TestDb } from '../db-servers.js';
import {
  openEvents,
  pubToken,
  type SpawnedServer,
  type SseClient,
  type SseEvent,
  spawnServer,
  startServer,
  subToken,
} from '../helpers.js';
import { eventually } from '../redis/cluster-helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const row = (n: number, uid = 'ob') => JSON.stringify({ to: uid, event: 'n', data: { n } });
const numbers = (events: SseEvent[]) => events.map((e) => (JSON.parse(e.data) as { n: number }).n);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

export function outboxSuite(name: string, startDb: () => Promise<TestDb>, skip: string | undefined): void {
  describe.skipIf(skip !== undefined)(`outbox on ${name}${skip ? ` (${skip})` : ''}`, () => {
    let db: TestDb;
    let table = '';
    const opened: { close(): unknown }[] = [];
    const track = <T extends { close(): unknown }>(x: T): T => {
      opened.push(x);
      return x;
    };

    beforeAll(async () => {
      db = await startDb();
    }, 90_000);
    afterAll(async () => {
      await db?.close();
    });
    afterEach(async () => {
      // Consumers first (they use the database and the servers), then servers, then clients.
      for (const x of opened.reverse()) await x.close();
      opened.length = 0;
    });

    const createTable = async () => {
      table = `ob_${randomBytes(4).toString('hex')}`;
      const sql = await outboxSchema(db.kind, table);
      for (const stmt of sql.split(';').map((s) => s.trim())) if (stmt) await db.query(stmt);
      return table;
    };
    const insert = (bodies: string[], commit = true) =>
      db.tx(
        bodies.map((b): [string, unknown[]] => [`INSERT INTO ${table} (body) VALUES (${db.ph(1)})`, [b]]),
        commit,
      );
    const count = async (t = table) => Number((await db.query(`SELECT COUNT(*) AS n FROM ${t}`))[0]!.n);
    const listen = async (url: string, uid = 'ob'): Promise<SseClient> => {
      const c = track(await openEvents(url, subToken(uid)));
      await c.waitForId();
      return c;
    };

    /** An in-process server consuming this test's table. */
    const consumer = async (env: Record<string, string> = {}) => {
      const srv = track(
        await startServer({ OUTBOX_URL: db.url, OUTBOX_TABLE: table, OUTBOX_POLL_MS: '20', ...env }),
      );
      const outbox = track((await srv.server.startOutbox()) as Outbox);
      return { srv, outbox };
    };

    it('delivers a committed row once and removes it; a rolled-back row never appears', async () => {
      await createTable();
      const { srv } = await consumer();
      const sse = await listen(srv.url);
      await insert([row(1)], false); // rolled back
      await insert([row(2)]);
      await sse.waitForEvents(1);
      await eventually(async () => (await count()) === 0, 5000, 'the row removed');
      await new Promise((r) => setTimeout(r, 300));
      expect(numbers(sse.events)).toEqual([2]);
    });

    it('publishes many rows in id order, each once', async () => {
      await createTable();
      const { srv } = await consumer();
      const sse = await listen(srv.url);
      for (let i = 0; i < 5; i++) await insert(range(i * 50, i * 50 + 50).map((n) => row(n)));
      await sse.waitForEvents(250, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(numbers(sse.events)).toEqual(range(0, 250));
      expect(await count()).toBe(0);
    });

    it('dead-letters bad rows with their error and keeps publishing the rows after them', async () => {
      await createTable();
      // A hand-made table whose body is plain text can even hold invalid JSON.
      await db.query(
        db.kind === 'mysql'
          ? `ALTER TABLE ${table} MODIFY body LONGTEXT NOT NULL`
          : `ALTER TABLE ${table} ALTER COLUMN body TYPE text`,
      );
      const { srv } = await consumer();
      const sse = await listen(srv.url);
      await insert([
        row(1),
        'not json {',
        JSON.stringify({ to: [], data: 1 }),
        JSON.stringify('just a string'),
        JSON.stringify({ to: 'ob', data: 1, bogus: true }),
        row(2),
      ]);
      await sse.waitForEvents(2);
      await eventually(async () => (await count(`${table}_dead`)) === 4, 5000, 'four dead letters');
      expect(numbers(sse.events)).toEqual([1, 2]);
      const dead = await db.query(`SELECT id, error FROM ${table}_dead ORDER BY id`);
      expect(dead.map((d) => String(d.error))).toEqual([
        expect.stringMatching(/invalid JSON/),
        expect.stringMatching(/to/),
        expect.any(String),
        expect.stringMatching(/bogus/),
      ]);
      expect(await count()).toBe(0);
      const metrics = await (await fetch(`${srv.url}/metrics`)).text();
      expect(metrics).toMatch(/^ssepush_outbox_dead_letters_total 4$/m);
      expect(metrics).toMatch(/^ssepush_outbox_published_total 2$/m);
      expect(metrics).toMatch(/^ssepush_outbox_lag_seconds /m);
    });

    it('dead-letters a row whose idempotency key was already used by another push', async () => {
      await createTable();
      const { srv } = await consumer();
      const sse = await listen(srv.url);
      for (const id of [1, 2, 3]) {
        const res = await fetch(`${srv.url}/push`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${pubToken()}`,
            'content-type': 'application/json',
            'idempotency-key': `outbox:${table}:${id}`,
          },
          body: JSON.stringify({ to: 'elsewhere', data: id }),
        });
        expect(res.status).toBe(200);
      }
      // A fresh table numbers its rows 1, 2, 3: every key is taken by another body.
      await insert([row(1), row(2)]);
      await insert([row(3)]);
      await eventually(async () => (await count(`${table}_dead`)) === 3, 5000, 'three dead letters');
      const dead = await db.query(`SELECT error FROM ${table}_dead ORDER BY id`);
      for (const d of dead) expect(String(d.error)).toMatch(/^idempotency_conflict/);
      expect(await count()).toBe(0);
      await insert([row(4)]);
      await sse.waitForEvents(1);
      expect(numbers(sse.events)).toEqual([4]);
    });

    it('keeps serving while the database is down, says so, and catches up once it is back', async () => {
      await createTable();
      const { srv, outbox } = await consumer();
      const sse = await listen(srv.url);
      await insert([row(1)]);
      await sse.waitForEvents(1);
      // The row is published inside its transaction; the state turns ok once that commits.
      await eventually(() => outbox.status().state === 'ok', 5000, 'outbox ok');
      await db.stop();
      try {
        await eventually(() => outbox.status().state === 'unavailable', 10_000, 'outbox unavailable');
        expect((await srv.push({ to: 'ob', event: 'n', data: { n: 2 } })).status).toBe(200);
        const health = await fetch(`${srv.url}/healthz`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: 'ok', demo: false, outbox: 'unavailable' });
      } finally {
        await db.start();
      }
      await insert([row(3), row(4)]);
      await sse.waitForEvents(4, 15_000);
      expect(numbers(sse.events)).toEqual([1, 2, 3, 4]);
      await eventually(() => outbox.status().state === 'ok', 5000, 'outbox ok');
      expect(await (await fetch(`${srv.url}/healthz`)).json()).toEqual({
        status: 'ok',
        demo: false,
        outbox: 'ok',
      });
    }, 60_000);

    describe('with Redis', () => {
      const redisSkip = redisSkipReason();
      let redis: TestRedis | undefined;
      beforeAll(async () => {
        if (!redisSkip) redis = await startRedis();
      });
      afterAll(() => redis?.close());

      /** A node that only serves subscribers (no outbox), sharing Redis with the consumers. */
      const viewer = async () =>
        track(await startServer({ REDIS_URL: redis!.url }, (config) => createRedisBroker(config)));
      const spawnConsumer = async () => {
        const node = await spawnServer(
          {
            REDIS_URL: redis!.url,
            OUTBOX_URL: db.url,
            OUTBOX_TABLE: table,
            OUTBOX_POLL_MS: '20',
            LOG_LEVEL: 'info',
          },
          30_000,
        );
        track({ close: () => node.stop('SIGKILL') });
        return node;
      };

      it.skipIf(redisSkip !== undefined)(
        'ssepush killed with -9 mid-batch and restarted: every row once, in order',
        async () => {
          await createTable();
          const v = await viewer();
          const sse = await listen(v.url);
          for (let i = 0; i < 8; i++) await insert(range(i * 100, i * 100 + 100).map((n) => row(n)));
          const first: SpawnedServer = await spawnConsumer();
          await sse.waitUntil(() => sse.events.length >= 150, 20_000, '150 rows delivered');
          await first.stop('SIGKILL');
          const atKill = sse.events.length;
          await spawnConsumer();
          await sse.waitForEvents(800, 30_000);
          await new Promise((r) => setTimeout(r, 500));
          expect(atKill).toBeLessThan(800);
          expect(numbers(sse.events)).toEqual(range(0, 800));
          expect(await count()).toBe(0);
        },
        90_000,
      );

      it.skipIf(redisSkip !== undefined)(
        'two nodes consuming one table: every row once, in order',
        async () => {
          await createTable();
          const v = await viewer();
          const sse = await listen(v.url);
          await Promise.all([spawnConsumer(), spawnConsumer()]);
          for (let i = 0; i < 10; i++) {
            await insert(range(i * 30, i * 30 + 30).map((n) => row(n)));
            await new Promise((r) => setTimeout(r, 30));
          }
          await sse.waitForEvents(300, 30_000);
          await new Promise((r) => setTimeout(r, 500));
          expect(numbers(sse.events)).toEqual(range(0, 300));
        },
        90_000,
      );
    });
  });
}
