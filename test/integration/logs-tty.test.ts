/**
 * Logs are JSON lines by default and readable for a person at a terminal: the server started on a
 * pseudo-terminal (util-linux `script`) outside production prints pino-pretty lines, in
 * production the same terminal gets JSON. (Piped output, as every other test reads it, is JSON.)
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { start, waitForOutput } from '../deploy/process.js';
import { ROOT, TEST_SECRET } from '../helpers.js';

const HAVE_SCRIPT = !spawnSync('script', ['--version']).error;

async function firstLogLine(env: Record<string, string>): Promise<string> {
  const p = start('script', ['-qec', `${process.execPath} --import tsx src/main.ts`, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, JWT_SECRET: TEST_SECRET, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  try {
    return await waitForOutput(p, (out) => /^.*listening.*$/m.exec(out)?.[0], 30_000);
  } finally {
    await p.stop('SIGTERM');
  }
}

describe.skipIf(!HAVE_SCRIPT)(
  `logs on a terminal${HAVE_SCRIPT ? '' : ' (skipped: script not found)'}`,
  () => {
    it('are readable in development and JSON in production', async () => {
      const dev = await firstLogLine({ NODE_ENV: 'development' });
      expect(dev).not.toContain('{"level"');
      expect(dev).toMatch(/INFO.*listening/);
      const prod = await firstLogLine({ NODE_ENV: 'production' });
      expect(prod).toMatch(/^\{"level":30,.*"msg":"listening"\}/);
    }, 90_000);
  },
);
