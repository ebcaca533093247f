/**
 * The SDKs' outbox helpers and the snippets of docs/outbox.md (PDO, Laravel, ThinkPHP, DB-API,
 * Django), run by real PHP and Python against real MariaDB and PostgreSQL, each consumed by an
 * ssepush server: the committed pushes arrive once and in order, the rolled-back ones never.
 * Laravel and Django are the real frameworks (Debian's `php-laravel-framework`, `python3-django`;
 * framework-apps.ts). ThinkPHP: a stand-in, because ThinkPHP is not installable here (run.php).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
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
import {
  buildDjango,
  buildLaravel,
  DJANGO_PKG,
  djangoMissing,
  LARAVEL_PKG,
  laravelMissing,
  pythonWith,
  requireFramework,
} from './framework-apps.js';

const APPS = join(ROOT, 'test/clients/apps');
const DIR = join(ROOT, '.tmp', 'outbox-frameworks');
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** The first fenced block of `lang` under `heading` in docs/outbox.md. */
function outboxSnippet(heading: string, lang: string): string {
  const doc = readFileSync(join(ROOT, 'docs/outbox.md'), 'utf8');
  const at = doc.indexOf(`\n${heading}\n`);
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(doc.slice(at));
  if (at < 0 || !m) throw new Error(`docs/outbox.md has no ${lang} block under ${heading}`);
  return m[1]!;
}

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

    /** Skips (locally) or fails (CI) without PHP and its PDO driver for this database. */
    const requirePhp = (ctx: TestContext) => {
      const why =
        missing('php') ??
        missing('php', [
          '-r',
          `exit(extension_loaded("pdo_${rig!.db.kind === 'mysql' ? 'mysql' : 'pgsql'}") ? 0 : 1);`,
        ]);
      if (!why) return;
      if (IN_CI) throw new Error(`CI=true but PHP or its PDO driver is missing: ${why}`);
      ctx.skip(`needs php with PDO for ${name}: ${why}`);
    };
    const dbEnv = () => {
      const url = u();
      return {
        user: decodeURIComponent(url.username),
        pass: decodeURIComponent(url.password),
        port: url.port,
        name: url.pathname.slice(1),
      };
    };
    const runPhp = async (step: string) => {
      const db = dbEnv();
      const dsn =
        rig!.db.kind === 'mysql'
          ? `mysql:host=127.0.0.1;port=${db.port};dbname=app`
          : `pgsql:host=127.0.0.1;port=${db.port};dbname=postgres`;
      const run = await runSuite('php', ['outbox-tests/run.php', step], {
        cwd: `${ROOT}clients/php`,
        env: {
          ...LOOPBACK_ENV,
          OUTBOX_DSN: dsn,
          OUTBOX_USER: db.user,
          OUTBOX_PASS: db.pass,
          SSEPUSH_UID: 'sdk',
        },
        timeoutMs: 30_000,
      });
      expect(run.code, run.output).toBe(0);
      return run.output;
    };

    it('PHP: Outbox::add with PDO, and a rolled-back one', async (ctx) => {
      requirePhp(ctx);
      expect(await runPhp('pdo')).toMatch(/ok: 1 orders paid/);
      await rig!.sse.waitForEvents(1);
      expect(orders()).toEqual([1]);
    }, 40_000);

    it('Laravel: DB::transaction in a real Laravel application', async (ctx) => {
      requirePhp(ctx);
      requireFramework(ctx, LARAVEL_PKG, laravelMissing());
      const before = rig!.sse.events.length;
      const dir = join(DIR, `laravel-${rig!.db.kind}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      buildLaravel(dir, [
        { path: 'outbox-snippet.php', code: `<?php\n${outboxSnippet('### Laravel', 'php')}` },
        { path: 'drive.php', code: readFileSync(join(APPS, 'laravel-outbox/drive.php'), 'utf8') },
      ]);
      const db = dbEnv();
      const run = await runSuite('php', ['drive.php', '3', 'sdk'], {
        cwd: dir,
        env: {
          ...LOOPBACK_ENV,
          SSEPUSH_PHP_SDK: join(ROOT, 'clients/php'),
          DB_CONNECTION: rig!.db.kind === 'mysql' ? 'mysql' : 'pgsql',
          DB_HOST: '127.0.0.1',
          DB_PORT: db.port,
          DB_DATABASE: rig!.db.kind === 'mysql' ? 'app' : 'postgres',
          DB_USERNAME: db.user,
          DB_PASSWORD: db.pass,
        },
        timeoutMs: 30_000,
      });
      expect(run.code, run.output).toBe(0);
      expect(run.output).toMatch(/ok: order paid/);
      await rig!.sse.waitForEvents(before + 1);
      expect(orders().slice(before)).toEqual([3]);
    }, 40_000);

    it('ThinkPHP: Db::transaction on a stand-in (ThinkPHP is not installable here)', async (ctx) => {
      requirePhp(ctx);
      const before = rig!.sse.events.length;
      expect(await runPhp('thinkphp')).toMatch(/ok: \d+ orders paid/);
      await rig!.sse.waitForEvents(before + 1);
      expect(orders().slice(before)).toEqual([4]);
    }, 40_000);

    it('Python: ssepush.outbox.add with DB-API', async (ctx) => {
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
      await rig!.sse.waitForEvents(before + 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(orders().slice(before)).toEqual([5]);
    }, 40_000);

    it('Django: ssepush.outbox.add inside transaction.atomic in a real Django project', async (ctx) => {
      const mod = rig!.db.kind === 'mysql' ? 'pymysql' : 'psycopg2';
      requireFramework(ctx, DJANGO_PKG, djangoMissing());
      const python = pythonWith('django', mod);
      if (!python) {
        if (IN_CI) throw new Error(`CI=true but no python3 imports both django and ${mod}`);
        ctx.skip(`needs a python3 with django and ${mod}`);
      }
      const before = rig!.sse.events.length;
      const dir = join(DIR, `django-${rig!.db.kind}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      await buildDjango(dir, 'shop', [
        {
          path: 'mysite/settings.py',
          code: readFileSync(join(APPS, 'django/outbox_settings.py'), 'utf8'),
          append: true,
        },
        { path: 'outbox_snippet.py', code: outboxSnippet('### Django', 'python') },
        { path: 'outbox_drive.py', code: readFileSync(join(APPS, 'django/outbox_drive.py'), 'utf8') },
      ]);
      const db = dbEnv();
      const run = await runSuite(python!, ['outbox_drive.py', 'sdk'], {
        cwd: dir,
        env: {
          ...LOOPBACK_ENV,
          PYTHONPATH: join(ROOT, 'clients/python'),
          PYTHONDONTWRITEBYTECODE: '1',
          OUTBOX_KIND: rig!.db.kind,
          OUTBOX_HOST: '127.0.0.1',
          OUTBOX_PORT: db.port,
          OUTBOX_USER: db.user,
          OUTBOX_PASS: db.pass,
          OUTBOX_DB: db.name,
        },
        timeoutMs: 60_000,
      });
      expect(run.code, run.output).toBe(0);
      // Order 6 was rolled back before order 7 committed: had it been published, it would come first.
      await rig!.sse.waitForEvents(before + 1);
      expect(orders().slice(before)).toEqual([7]);
    }, 90_000);
  });
}

suite('MariaDB', startMariaDb, mariadbSkipReason());
suite('PostgreSQL', startPostgres, postgresSkipReason());
