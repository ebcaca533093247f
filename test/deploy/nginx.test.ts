/**
 * deploy/nginx.conf as shipped, in front of a real ssepush: nginx runs in a temp dir with its own
 * config, pid and logs on a free loopback port (foreground, stopped by its PID). Checks that SSE
 * streams through unbuffered, /push is open to an allowed address and refused with JSON to
 * others, exact matches leave page routes like /push/token alone, /ssepush.js is served, and
 * no token reaches nginx's access log.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IN_CI } from '../clients/external.js';
import { openEvents, pubToken, ROOT, startServer, subToken, type TestServer } from '../helpers.js';
import { type Started, start } from './process.js';

function findNginx(): string | undefined {
  for (const bin of ['nginx', '/usr/sbin/nginx']) {
    if (!spawnSync(bin, ['-v']).error) return bin;
  }
  return undefined;
}
const NGINX = findNginx();
if (!NGINX && IN_CI) throw new Error('nginx is required in CI (.ci/run installs it)');
const SKIP = NGINX ? '' : ' (skipped: nginx not found; apt-get install nginx)';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** deploy/nginx.conf with its upstream, listen port and log folder pointed at this test's ones. */
function deployConfig(upstreamPort: number, port: number, logDir: string): string {
  const text = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8');
  const out = text
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${upstreamPort};`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
    .replaceAll('/var/log/nginx/', `${logDir}/`);
  expect(out).not.toContain(':8080;');
  expect(out).not.toContain('listen 80;');
  return out;
}

describe.skipIf(!NGINX)(`nginx with deploy/nginx.conf in front of ssepush${SKIP}`, () => {
  let dir: string;
  let server: TestServer;
  let nginx: Started;
  let open: string;
  let denied: string;

  beforeAll(async () => {
    server = await startServer();
    dir = mkdtempSync(join(tmpdir(), 'ssepush-nginx-'));
    for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
    chmodSync(dir, 0o755); // nginx workers may run as another user when the test runs as root
    const [p1, p2] = [await freePort(), await freePort()];
    open = `http://127.0.0.1:${p1}`;
    denied = `http://127.0.0.1:${p2}`;
    const site = deployConfig(server.port, p1, join(dir, 'logs'));
    // The same server block again, without the loopback allowance: 127.0.0.1 is a refused address.
    const block = /^server \{[\s\S]*^\}/m.exec(site)![0];
    const refusing = block
      .replace(`listen 127.0.0.1:${p1};`, `listen 127.0.0.1:${p2};`)
      .replace(/^\s*allow 127\.0\.0\.1;\n/gm, '');
    expect(refusing).not.toContain('allow 127.0.0.1');
    const tmp = join(dir, 'tmp');
    writeFileSync(join(dir, 'site.conf'), `${site}\n${refusing}\n`);
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/logs/main.error.log warn;`,
        'events { worker_connections 256; }',
        'http {',
        `  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fastcgi;`,
        `  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;`,
        `  include ${dir}/site.conf;`,
        '}',
      ].join('\n'),
    );
    const check = spawnSync(NGINX!, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    expect(check.status, check.stderr).toBe(0);
    nginx = start(NGINX!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
      cwd: dir,
      env: process.env,
    });
    // Up when both ports answer (nginx prints nothing when it starts).
    for (const base of [open, denied]) {
      for (let i = 0; ; i++) {
        if (
          await fetch(`${base}/healthz`).then(
            () => true,
            () => false,
          )
        )
          break;
        if (i > 200 || nginx.proc.exitCode !== null)
          throw new Error(`nginx did not start:\n${nginx.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }, 30_000);

  afterAll(async () => {
    await nginx?.stop('SIGTERM');
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('streams SSE unbuffered and lets an allowed address push', async () => {
    const sub = subToken('42');
    const c = await openEvents(open, sub);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toContain('text/event-stream');
    await c.waitForId(); // the first bare id arrives while the stream is open: nothing held back
    const res = await fetch(`${open}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '42', data: { via: 'nginx' } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ online: true, delivered: 1 });
    const [event] = await c.waitForEvents(1);
    expect(event).toMatchObject({ event: 'message', data: '{"via":"nginx"}' });
    expect(c.closed).toBe(false);
    c.close();
  });

  it('refuses /push and /online from other addresses with a JSON 403', async () => {
    for (const [method, path] of [
      ['POST', '/push'],
      ['GET', '/online'],
    ] as const) {
      const res = await fetch(`${denied}${path}`, {
        method,
        headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{"data":1}' } : {}),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ error: 'forbidden' });
    }
    // ssepush's own 403 (a subscriber token used to push) passes through unchanged.
    const wrong = await fetch(`${open}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${subToken('x')}`, 'content-type': 'application/json' },
      body: '{"data":1}',
    });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: 'insufficient_scope' });
  });

  it('matches /push exactly (a page route /push/token is not refused) and serves /ssepush.js', async () => {
    const page = await fetch(`${denied}/push/token`);
    expect(page.status).toBe(404);
    const js = await fetch(`${open}/ssepush.js`);
    expect(js.status).toBe(200);
    expect(await js.text()).toContain('SsePush');
  });

  it('keeps tokens out of the access log', async () => {
    const sub = subToken('log-check');
    const c = await openEvents(open, sub);
    await c.waitForId();
    c.close();
    const polled = await fetch(`${open}/poll?token=${sub}`);
    expect(polled.status).toBe(200);
    const log = join(dir, 'logs/ssepush.access.log');
    let text = '';
    for (let i = 0; i < 100 && !/GET \/events HTTP[^\n]*\n[\s\S]*GET \/poll/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 50));
      text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    }
    expect(text).toMatch(/"GET \/events HTTP\/1\.1" 200/);
    expect(text).toMatch(/"GET \/poll HTTP\/1\.1" 200/);
    expect(text).not.toContain('token=');
    expect(text).not.toContain(sub.split('.')[2]);
  });
});
