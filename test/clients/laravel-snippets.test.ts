/**
 * Runs the Laravel snippets of README.md, README.zh-CN.md and docs/backends.md inside a real
 * Laravel 8 application (Debian's `php-laravel-framework`, test/clients/apps/laravel) against a
 * real server: the `.env` (pointed at the test server), `config/ssepush.php`, the provider's
 * binding, the `auth` token route, the queued job and the queued listener, as pasted. The route
 * answers 401 without a user and a token for the user's uid and team group with one; the job's
 * `dispatch` line and the `OrderPaid` event deliver to that token's stream; a push the server
 * refuses fails the job, an unreachable server makes it throw for the queue to retry.
 *
 * The queue is Laravel's `sync` driver there: Laravel's own job serialisation, container injection
 * and `fail()`, in the dispatching process. The job's retries are then checked on Laravel's
 * `database` queue on a real MariaDB with Laravel's own worker: released while ssepush is
 * unreachable, delivered on the next attempt, failed for good on a 400.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mariadbSkipReason, startMariaDb, type TestDb } from '../db-servers.js';
import { openEvents, ROOT, startServer, subToken, TEST_SECRET } from '../helpers.js';
import { freePort } from '../redis-server.js';
import { LOOPBACK_ENV, runSuite } from './external.js';
import {
  type AppFile,
  buildLaravel,
  LARAVEL_PKG,
  laravelMissing,
  pick,
  requireFramework,
  sectionBlocks,
} from './framework-apps.js';

const SECTIONS: [string, string][] = [
  ['README.md', '## Laravel'],
  ['README.zh-CN.md', '## Laravel 集成'],
  ['docs/backends.md', '### Laravel'],
];
const FIXTURES = join(ROOT, 'test/clients/apps/laravel-snippets');
const DIR = join(ROOT, '.tmp', 'laravel-snippets');

afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** Where each block of the section goes in the application, as the section names the files. */
function laravelFiles(blocks: Record<string, string[]>, url: string): AppFile[] {
  const php = blocks.php;
  const env = blocks.ini?.[0] ?? '';
  const keys = env
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => l.split('=')[0]!.trim());
  expect(keys, 'the .env block sets exactly these').toEqual(['SSEPUSH_URL', 'SSEPUSH_SECRET']);
  const provider = pick(php, 'function register');
  const uses = provider.match(/^use [^;]+;$/gm) ?? [];
  const job = pick(php, 'class PushToUser');
  const anywhere = /^\/\/ [^:：]+[:：] ?(PushToUser::dispatch.*)$/m.exec(job)?.[1];
  if (!anywhere) throw new Error('the job snippet lost its "// anywhere: PushToUser::dispatch(...)" line');
  return [
    { path: '.env', code: `APP_KEY=\nSSEPUSH_URL=${url}\nSSEPUSH_SECRET=${TEST_SECRET}\n` },
    { path: 'config/ssepush.php', code: pick(php, "'url'") },
    {
      path: 'app/Providers/AppServiceProvider.php',
      code: `<?php\nnamespace App\\Providers;\n\nuse Illuminate\\Support\\ServiceProvider;\n${uses.join('\n')}\n\nclass AppServiceProvider extends ServiceProvider\n{\n${provider.replace(/^use [^;]+;$/gm, '')}\n}\n`,
    },
    { path: 'routes/web.php', code: `<?php\n${pick(php, 'Route::')}` },
    { path: 'app/Jobs/PushToUser.php', code: job },
    { path: 'app/Listeners/SendOrderPaidPush.php', code: pick(php, 'class SendOrderPaidPush') },
    { path: 'anywhere.php', code: `<?php\nuse App\\Jobs\\PushToUser;\n${anywhere}\n` },
    ...['drive.php', 'app/Events/OrderPaid.php', 'app/Providers/EventServiceProvider.php'].map((path) => ({
      path,
      code: readFileSync(join(FIXTURES, path), 'utf8'),
    })),
  ];
}

/** Builds the application of `doc` in its own folder under DIR. */
function buildFor(doc: string, heading: string, url: string, tag: string): string {
  const dir = join(DIR, `${doc.replace(/\W/g, '-')}${tag}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  buildLaravel(dir, [
    ...laravelFiles(sectionBlocks(doc, heading), url),
    { path: 'worker.php', code: readFileSync(join(FIXTURES, 'worker.php'), 'utf8') },
  ]);
  return dir;
}

/** Runs `php SCRIPT ...args` in the application; returns its last output line, parsed. */
async function php(dir: string, env: Record<string, string>, ...args: string[]) {
  const r = await runSuite('php', args, {
    cwd: dir,
    env: { ...LOOPBACK_ENV, SSEPUSH_PHP_SDK: join(ROOT, 'clients/php'), ...env },
    timeoutMs: 60_000,
  });
  expect(r.code, r.output).toBe(0);
  return JSON.parse(r.output.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe('Laravel snippets of the docs in a real Laravel application', () => {
  for (const [doc, heading] of SECTIONS) {
    it(`${doc} "${heading}": token route, job and listener deliver to the user`, async (ctx) => {
      requireFramework(ctx, LARAVEL_PKG, laravelMissing());
      const s = await startServer();
      try {
        const dir = buildFor(doc, heading, s.url, '');
        const uid = `lv-${doc.replace(/\W/g, '')}`;
        const got = await php(dir, {}, 'drive.php', 'token', uid);
        expect(got.anonymous, 'no user, no token').toBe(401);
        expect(got.status).toBe(200);
        const token = String(got.token);
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
          string,
          unknown
        >;
        expect([claims.sub, claims.groups]).toEqual([uid, ['team-3']]);

        const sse = await openEvents(s.url, token);
        try {
          await sse.waitForId();
          const pushed = await php(dir, {}, 'drive.php', 'push', uid, String(await freePort()));
          expect(
            pushed.failed,
            'the refused push failed the job; the unreachable one failed this attempt',
          ).toEqual(['PushException 400', 'ConnectionException 0']);
          expect(pushed.down, 'the job threw for the queue to retry').toBe('SsePush\\ConnectionException');
          await sse.waitForEvents(2);
          expect(sse.events.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
            ['order', { orderId: 7 }],
            ['order', { orderId: 8, status: 'paid' }],
          ]);
        } finally {
          sse.close();
        }
      } finally {
        await s.close();
      }
    }, 90_000);
  }
});

describe.skipIf(mariadbSkipReason() !== undefined)(
  `the Laravel job on a database queue with Laravel's worker${mariadbSkipReason() ? ` (${mariadbSkipReason()})` : ''}`,
  () => {
    let db: TestDb | undefined;
    beforeAll(async () => {
      if (!laravelMissing()) db = await startMariaDb();
    }, 90_000);
    afterAll(() => db?.close());

    for (const [doc, heading] of SECTIONS) {
      it(`${doc}: released while ssepush is down, delivered when it is back, failed for good on a 400`, async (ctx) => {
        requireFramework(ctx, LARAVEL_PKG, laravelMissing());
        const s = await startServer();
        try {
          const dir = buildFor(doc, heading, s.url, '-queue');
          const uid = `lvq-${doc.replace(/\W/g, '')}`;
          const sse = await openEvents(s.url, subToken(uid));
          try {
            await sse.waitForId();
            const u = new URL(db!.url);
            await db!.query('DROP TABLE IF EXISTS jobs');
            const got = await php(
              dir,
              {
                QUEUE_CONNECTION: 'database',
                DB_CONNECTION: 'mysql',
                DB_PORT: u.port,
                DB_DATABASE: u.pathname.slice(1),
                DB_USERNAME: decodeURIComponent(u.username),
                DB_PASSWORD: decodeURIComponent(u.password),
              },
              'worker.php',
              uid,
              String(await freePort()),
            );
            expect(got.afterDown, 'the unreachable push was released for another attempt').toEqual({
              attempts: 1,
              queued: 1,
            });
            expect(got.processed, 'delivered on the second attempt; the refused push ran once').toEqual([
              2, 1,
            ]);
            expect(got.failed).toEqual([400]);
            expect(got.left).toBe(0);
            await sse.waitForEvents(1);
            expect(sse.events.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
              ['order', { orderId: 10 }],
            ]);
          } finally {
            sse.close();
          }
        } finally {
          await s.close();
        }
      }, 90_000);
    }
  },
);
