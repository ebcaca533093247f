/**
 * Runs every receiver of docs/webhooks.md marked `<!-- receiver: LANG ... -->`, as pasted, behind
 * a real ssepush server whose WEBHOOK_URL points at it: a user connects and leaves, and the
 * receiver must print (or log) `online <uid>` then `offline <uid>` (it verified the signature with
 * the SDK of its language to get there), after answering 400 to a forged request. The framework
 * receivers run inside a real Django project and a real Laravel application (webhook-apps.ts).
 * A missing runtime or framework is a skip locally and a failure in CI (`CI=true`).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Started, start, waitForOutput } from '../deploy/process.js';
import { openEvents, ROOT, startServer, subToken } from '../helpers.js';
import { freePort } from '../redis-server.js';
import { WEBHOOK_SECRET } from '../webhook-receiver.js';
import { IN_CI, LOOPBACK_ENV } from './external.js';
import { APPS, docBlocks, receiverEnv } from './webhook-apps.js';

const DOC = join(ROOT, 'docs/webhooks.md');
const blocks = docBlocks(readFileSync(DOC, 'utf8'));
const langs = [...new Set(blocks.map((b) => b.lang))];
const DIR = join(ROOT, '.tmp', 'webhook-receivers');

const started: Started[] = [];
afterAll(async () => {
  for (const s of started) await s.stop('SIGKILL');
  rmSync(DIR, { recursive: true, force: true });
});

/** `online <uid>` / `offline <uid>` lines of the receiver's output, wherever its log puts them. */
function transitions(out: string, uid: string): string[] {
  const found: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:^|\s)(online|offline) (\S+)\s*$/.exec(line);
    if (m && m[2] === uid) found.push(`${m[1]} ${uid}`);
  }
  return found;
}

/**
 * Posts a request whose signature is forged until the receiver answers (it is then up), and
 * returns that answer's status.
 */
async function forgedStatus(url: string, receiver: Started): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'SsePush-Signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`,
        },
        body: '{"events":[{"id":"x-1","type":"online","uid":"forged","time":1}]}',
      });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      if (receiver.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`receiver not answering (${String(err)}):\n${receiver.output()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('webhook receivers of docs/webhooks.md against a real server', () => {
  it('the doc has a runnable receiver for plain PHP, Python, Node, Laravel and Django', () => {
    expect([...langs].sort()).toEqual(['django', 'laravel', 'node', 'php', 'python']);
  });

  for (const lang of langs) {
    it(`${lang} receiver refuses a forged request, then prints online then offline`, async (ctx) => {
      const app = APPS[lang];
      if (!app) throw new Error(`docs/webhooks.md has a receiver for ${lang}, which this test cannot run`);
      const why = app.missing();
      if (why) {
        if (IN_CI) throw new Error(`CI=true but ${app.pkg} is missing: ${why}`);
        ctx.skip(`${app.pkg} is not installed (apt-get install ${app.pkg}): ${why}`);
      }
      const dir = join(DIR, lang);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const port = await freePort();
      const run = await app.build(
        dir,
        blocks.filter((b) => b.lang === lang),
        port,
      );
      const receiver = start(run.cmd, run.args, {
        cwd: run.cwd,
        env: { ...process.env, ...LOOPBACK_ENV, ...receiverEnv(port, WEBHOOK_SECRET) },
      });
      started.push(receiver);
      const url = `http://127.0.0.1:${port}${app.path}`;
      expect(await forgedStatus(url, receiver)).toBe(400);
      const s = await startServer({ WEBHOOK_URL: url, WEBHOOK_SECRET, OFFLINE_GRACE_SECONDS: '1' });
      try {
        const uid = `user-${lang}`;
        const c = await openEvents(s.url, subToken(uid));
        await c.waitForId();
        await waitForOutput(receiver, (out) => (transitions(out, uid).length > 0 ? true : undefined), 15_000);
        c.close();
        await waitForOutput(receiver, (out) => (transitions(out, uid).length > 1 ? true : undefined), 15_000);
        expect(transitions(receiver.output(), uid)).toEqual([`online ${uid}`, `offline ${uid}`]);
        expect(transitions(receiver.output(), 'forged')).toEqual([]);
      } finally {
        await s.close();
        await receiver.stop('SIGKILL');
      }
    }, 90_000);
  }
});
