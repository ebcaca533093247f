/**
 * Runs the Django snippets of docs/backends.md inside a real Django project (Debian's
 * `python3-django`, made by `startproject`) against a real server: the `settings.py` block,
 * `myapp/push.py` and `myapp/views.py` as pasted, the view behind Django's own `login_required`
 * (a redirect without a login, a token for the user's pk with one), and the `on_commit` line in
 * a transaction that rolls back (nothing is pushed) and in one that commits (the push arrives).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEvents, ROOT, startServer, TEST_SECRET } from '../helpers.js';
import { LOOPBACK_ENV, runSuite } from './external.js';
import {
  buildDjango,
  DJANGO_PKG,
  djangoMissing,
  pick,
  requireFramework,
  sectionBlocks,
} from './framework-apps.js';

const FIXTURES = join(ROOT, 'test/clients/apps/django');
const DIR = join(ROOT, '.tmp', 'django-snippets');

afterAll(() => rmSync(DIR, { recursive: true, force: true }));

describe('Django snippets of docs/backends.md in a real Django project', () => {
  it('the token view needs a login, and on_commit pushes only what commits', async (ctx) => {
    requireFramework(ctx, DJANGO_PKG, djangoMissing());
    const py = sectionBlocks('docs/backends.md', '## Python (`clients/python`) and Django').python;
    const fixture = (f: string) => readFileSync(join(FIXTURES, f), 'utf8');
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const python = await buildDjango(DIR, 'myapp', [
      { path: 'mysite/settings.py', code: pick(py, 'SSEPUSH_URL = '), append: true },
      { path: 'mysite/settings.py', code: fixture('docs_settings.py'), append: true },
      { path: 'mysite/urls.py', code: fixture('docs_urls.py'), append: true },
      { path: 'myapp/push.py', code: pick(py, 'lru_cache') },
      { path: 'myapp/views.py', code: pick(py, 'def push_token') },
      { path: 'on_commit.py', code: pick(py, 'on_commit') },
      { path: 'docs_drive.py', code: fixture('docs_drive.py') },
    ]);
    const s = await startServer();
    try {
      const run = async (...args: string[]) => {
        const r = await runSuite(python, ['docs_drive.py', ...args], {
          cwd: DIR,
          env: {
            ...LOOPBACK_ENV,
            SSEPUSH_URL: s.url,
            SSEPUSH_SECRET: TEST_SECRET,
            PYTHONPATH: join(ROOT, 'clients/python'),
            PYTHONDONTWRITEBYTECODE: '1',
          },
          timeoutMs: 60_000,
        });
        expect(r.code, r.output).toBe(0);
        return r.output.trim().split('\n').pop()!;
      };
      const got = JSON.parse(await run('token')) as {
        anonymous: number;
        status: number;
        uid: string;
        token: string;
      };
      expect(got.anonymous, 'login_required sends the anonymous user to the login page').toBe(302);
      expect(got.status).toBe(200);
      const claims = JSON.parse(Buffer.from(got.token.split('.')[1]!, 'base64url').toString()) as {
        sub: unknown;
      };
      expect(String(claims.sub)).toBe(got.uid);
      const sse = await openEvents(s.url, got.token);
      try {
        await sse.waitForId();
        expect(await run('push', got.uid)).toBe('ok');
        // Order 8 was rolled back before order 9 committed: had it been pushed, it would come first.
        await sse.waitForEvents(1);
        expect(sse.events.map((e) => [e.event, JSON.parse(e.data)])).toEqual([['order', { orderId: 9 }]]);
      } finally {
        sse.close();
      }
    } finally {
      await s.close();
    }
  }, 120_000);
});
