/**
 * The SDKs' outbox helpers and the snippets of docs/outbox.md (PDO, Laravel, ThinkPHP, DB-API,
 * Django), run by real PHP and Python against real MariaDB and PostgreSQL, each consumed by an
 * ssepush server: the committed pushes arrive once and in order, the rolled-back ones never.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outbox, outboxSchema } from '../../src/outbox.js';
import {
  mariadbSkipReason,
  postgresSkipReason,
  startMariaDb,
  startPostgres,
  type TestDb,
} from '../db-servers.js';
import { openEvents, ROOT, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';
import { IN_CI, LOOPBACK_ENV, missing, runSuite } from './external.js';

interface Rig {
  db: TestDb;
  srv: TestServer;
  outbox: Outbox;
  sse: SseClient;
}

function suite(name: string, startDb: () => Promise<TestDb>, skip: string | undefined) {
  describe.skipIf(skip !== undefined)(`outbox SDKs on ${name}${skip ? ` (${skip})` : ''}`, () => {
    let rig: Rig | undefined;
    beforeAll(async () => {
      const db = await startDb();
      const sql = await outboxSchema(db.kind, 'ssepush_outbox');
      for (const stmt of sql.split(';').map((s) => s.trim())) if (stmt) await db.query(stmt);
      await db.query('CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(16) NOT NULL)');
      await db.query(
        `INSERT INTO orders (id, status) VALUES ${[1, 2, 3, 4, 5, 6, 7].map((i) => `(${i}, 'new')`).join(', ')}`,
      );
      const srv = await startServer({ OUTBOX_URL: db.url, OUTBOX_POLL_MS: '20' });
      const outbox = (await srv.server.startOutbox()) as Outbox;
      const sse = await openEvents(srv.url, subToken('sdk'));
      await sse.waitForId();
      rig = { db, srv, outbox, sse };
    }, 90_000);
    afterAll(async () => {
      rig?.sse.close();
      await rig?.outbox.close();
      await rig?.srv.close();
      await rig?.db.close();
    });

    const u = () => new URL(rig!.db.url);
    const orders = () => rig!.sse.events.map((e) => (JSON.parse(e.data) as { order: number }).order);

    it('PHP: Outbox::add with PDO, Laravel DB::transaction, ThinkPHP Db::transaction', async (ctx) => {
      const why =
        missing('php') ??
        missing('php', [
          '-r',
          `exit(extension_loaded("pdo_${rig!.db.kind === 'mysql' ? 'mysql' : 'pgsql'}") ? 0 : 1);`,
        ]);
      if (why) {
        if (IN_CI) throw new Error(`CI=true but PHP or its PDO driver is missing: ${why}`);
        ctx.skip(`needs php with PDO for ${name}: ${why}`);
      }
      const url = u();
      const dsn =
        rig!.db.kind === 'mysql'
          ? `mysql:host=127.0.0.1;port=${url.port};dbname=app`
          : `pgsql:host=127.0.0.1;port=${url.port};dbname=postgres`;
      const run = await runSuite('php', ['outbox-tests/run.php'], {
        cwd: `${ROOT}clients/php`,
        env: {
          ...LOOPBACK_ENV,
          OUTBOX_DSN: dsn,
          OUTBOX_USER: decodeURIComponent(url.username),
          OUTBOX_PASS: decodeURIComponent(url.password),
          SSEPUSH_UID: 'sdk',
        },
        timeoutMs: 30_000,
      });
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(/ok: 3 orders paid/);
      await rig!.sse.waitForEvents(3);
      expect(orders()).toEqual([1, 3, 4]);
    }, 40_000);

    it('Python: ssepush.outbox.add with DB-API and inside Django transaction.atomic', async (ctx) => {
      const mod = rig!.db.kind === 'mysql' ? 'pymysql' : 'psycopg2';
      // The distribution's python3 carries the apt-installed drivers when a PATH one does not.
      const python =
        ['python3', '/usr/bin/python3'].find((py) => !missing(py, ['-c', `import ${mod}`])) ?? 'python3';
      const why = missing(python) ?? missing(python, ['-c', `import ${mod}`]);
      if (why) {
        if (IN_CI) throw new Error(`CI=true but python3 or ${mod} is missing: ${why}`);
        ctx.skip(`needs python3 with ${mod}: ${why}`);
      }
      const before = rig!.sse.events.length;
      const url = u();
      const run = await runSuite(python, ['outbox_tests/run.py'], {
        cwd: `${ROOT}clients/python`,
        env: {
          ...LOOPBACK_ENV,
          OUTBOX_KIND: rig!.db.kind,
          OUTBOX_HOST: '127.0.0.1',
          OUTBOX_PORT: url.port,
          OUTBOX_USER: decodeURIComponent(url.username),
          OUTBOX_PASS: decodeURIComponent(url.password),
          OUTBOX_DB: url.pathname.slice(1),
          SSEPUSH_UID: 'sdk',
          PYTHONDONTWRITEBYTECODE: '1',
        },
        timeoutMs: 30_000,
      });
      expect(run.code, run.output).toBe(0);
      await rig!.sse.waitForEvents(before + 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(orders().slice(before)).toEqual([5, 7]);
    }, 40_000);
  });
}

suite('MariaDB', startMariaDb, mariadbSkipReason());
suite('PostgreSQL', startPostgres, postgresSkipReason());
