import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer, TEST_SECRET, type TestServer } from '../helpers.js';
import { IN_CI, LOOPBACK_ENV, missing, runSuite } from './external.js';

const why = missing('php') ?? missing('phpunit');

describe('PHP client (clients/php) against the real server', () => {
  let s: TestServer | undefined;
  beforeAll(async () => {
    if (!why) s = await startServer();
  });
  afterAll(() => s?.close());

  it('passes its phpunit suite (curl and stream transports)', async (ctx) => {
    if (why) {
      if (IN_CI) throw new Error(`CI=true but the PHP runtime is missing: ${why}`);
      ctx.skip(`PHP client tests need php and phpunit: ${why}`);
    }
    const run = await runSuite(
      'phpunit',
      ['--do-not-cache-result', '--bootstrap', 'tests/bootstrap.php', 'tests'],
      {
        cwd: `${ROOT}clients/php`,
        env: { ...LOOPBACK_ENV, SSEPUSH_URL: s!.url, SSEPUSH_SECRET: TEST_SECRET },
        timeoutMs: 50_000,
      },
    );
    expect(run.code, run.output).toBe(0);
    // Everything ran against the server: only the curl run may skip, and only without php-curl.
    const curl = missing('php', ['-r', 'exit(extension_loaded("curl") ? 0 : 1);']);
    if (!curl) expect(run.output, run.output).not.toMatch(/Skipped: \d+/);
    else if (IN_CI) throw new Error(`CI=true but php-curl is missing:\n${run.output}`);
  }, 60_000);
});
