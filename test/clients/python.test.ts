import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startServer, TEST_SECRET, type TestServer } from '../helpers.js';
import { IN_CI, LOOPBACK_ENV, missing, runSuite } from './external.js';

const why = missing('python3');

describe('Python client (clients/python) against the real server', () => {
  let s: TestServer | undefined;
  beforeAll(async () => {
    if (!why) s = await startServer();
  });
  afterAll(() => s?.close());

  it('passes its unittest suite', async (ctx) => {
    if (why) {
      if (IN_CI) throw new Error(`CI=true but python3 is missing: ${why}`);
      ctx.skip(`Python client tests need python3: ${why}`);
    }
    const run = await runSuite('python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
      cwd: `${ROOT}clients/python`,
      env: {
        ...LOOPBACK_ENV,
        SSEPUSH_URL: s!.url,
        SSEPUSH_SECRET: TEST_SECRET,
        PYTHONDONTWRITEBYTECODE: '1',
      },
      timeoutMs: 50_000,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output, 'every test ran against the server').not.toMatch(/skipped/i);
  }, 60_000);
});
