/**
 * Runs every receiver of docs/webhooks.md marked `<!-- receiver: php|python|node -->`, as
 * pasted, behind a real ssepush server whose WEBHOOK_URL points at it: a user connects and
 * leaves, and the receiver must print `online <uid>` then `offline <uid>` (it verified the
 * signature with the SDK of its language to get there).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Started, start, waitForOutput } from '../deploy/process.js';
import { openEvents, ROOT, startServer, subToken } from '../helpers.js';
import { freePort } from '../redis-server.js';
import { WEBHOOK_SECRET } from '../webhook-receiver.js';
import { IN_CI, LOOPBACK_ENV, missing } from './external.js';

const DOC = join(ROOT, 'docs/webhooks.md');
const text = readFileSync(DOC, 'utf8');
const blocks = [...text.matchAll(/^<!-- receiver: (\w+) -->\n```\w*\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1]!,
  code: m[2]!,
}));
const DIR = join(ROOT, '.tmp', 'webhook-receivers');

const RUN: Record<string, { file: string; cmd: (file: string, port: number) => [string, string[]] }> = {
  php: { file: 'receiver.php', cmd: (f, port) => ['php', ['-S', `127.0.0.1:${port}`, f]] },
  python: { file: 'receiver.py', cmd: (f) => ['python3', [f]] },
  node: { file: 'receiver.mjs', cmd: (f) => [process.execPath, [f]] },
};

const started: Started[] = [];
afterAll(async () => {
  for (const s of started) await s.stop('SIGKILL');
  rmSync(DIR, { recursive: true, force: true });
});

describe('webhook receivers of docs/webhooks.md against a real server', () => {
  it('the doc has a runnable receiver for PHP, Python and Node', () => {
    expect(blocks.map((b) => b.lang).sort()).toEqual(['node', 'php', 'python']);
  });

  for (const [i, b] of blocks.entries()) {
    it(`${b.lang} receiver prints online then offline`, async (ctx) => {
      const run = RUN[b.lang]!;
      const [bin] = run.cmd('x', 0);
      const why = bin === process.execPath ? undefined : missing(bin!);
      if (why) {
        if (IN_CI) throw new Error(`CI=true but ${bin} is missing: ${why}`);
        ctx.skip(`${bin} is not installed: ${why}`);
      }
      const dir = join(DIR, String(i));
      mkdirSync(dir, { recursive: true });
      const file = join(dir, run.file);
      writeFileSync(file, b.code);
      const port = await freePort();
      const [cmd, args] = run.cmd(file, port);
      const receiver = start(cmd, args, {
        cwd: ROOT,
        env: {
          ...process.env,
          ...LOOPBACK_ENV,
          PORT: String(port),
          SSEPUSH_WEBHOOK_SECRET: WEBHOOK_SECRET,
          PYTHONPATH: join(ROOT, 'clients/python'),
        },
      });
      started.push(receiver);
      await new Promise((r) => setTimeout(r, 500)); // the receiver binds its port
      const s = await startServer({
        WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/ssepush`,
        WEBHOOK_SECRET,
        OFFLINE_GRACE_SECONDS: '1',
      });
      try {
        const uid = `user-${b.lang}`;
        const c = await openEvents(s.url, subToken(uid));
        await c.waitForId();
        await waitForOutput(receiver, (out) => (out.includes(`online ${uid}`) ? true : undefined), 15_000);
        c.close();
        await waitForOutput(receiver, (out) => (out.includes(`offline ${uid}`) ? true : undefined), 15_000);
        const lines = receiver
          .output()
          .split('\n')
          .filter((l) => l.endsWith(` ${uid}`));
        expect(lines).toEqual([`online ${uid}`, `offline ${uid}`]);
      } finally {
        await s.close();
      }
    }, 60_000);
  }
});
