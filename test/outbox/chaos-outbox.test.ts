/**
 * The delivery checker with the outbox and keyed retries in its schedule: a real MariaDB (or,
 * without it, PostgreSQL), a server consuming the outbox, and the model knowing, step by step,
 * what every SSE and poll client must get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outbox, outboxSchema } from '../../src/outbox.js';
import { runChaos } from '../chaos/checker.js';
import { mariadbSkipReason, startMariaDb, type TestDb } from '../db-servers.js';
import { startServer, type TestServer } from '../helpers.js';

const HISTORY_SIZE = 16;
const skip = mariadbSkipReason();

describe.skipIf(skip !== undefined)(
  `chaos with the outbox and keyed retries${skip ? ` (${skip})` : ''}`,
  () => {
    let db: TestDb;
    let s: TestServer;
    let outbox: Outbox;
    beforeAll(async () => {
      db = await startMariaDb();
      for (const stmt of (await outboxSchema('mysql', 'ssepush_outbox')).split(';').map((x) => x.trim())) {
        if (stmt) await db.query(stmt);
      }
      s = await startServer({
        HISTORY_SIZE: String(HISTORY_SIZE),
        HISTORY_TTL_SECONDS: '0',
        HEARTBEAT_SECONDS: '1',
        OUTBOX_URL: db.url,
        OUTBOX_POLL_MS: '5',
      });
      outbox = (await s.server.startOutbox()) as Outbox;
    }, 90_000);
    afterAll(async () => {
      await outbox?.close();
      await s?.close();
      await db?.close();
    });

    it('2,000 operations: no loss, no duplicate, no reorder through the outbox and keyed retries', async () => {
      const seed = Number(process.env.CHAOS_SEED ?? 20261206);
      const stats = await runChaos(s, {
        ops: 2000,
        seed,
        historySize: HISTORY_SIZE,
        keyedRetries: true,
        outbox: (body) => db.tx([['INSERT INTO ssepush_outbox (body) VALUES (?)', [JSON.stringify(body)]]]),
      });
      console.log(`chaos+outbox seed ${seed}: ${JSON.stringify(stats)}`);
      expect(stats.ops).toBe(2000);
      expect(stats.replays).toBeGreaterThan(20);
    }, 180_000);
  },
);
