/**
 * The package route of the README's "Deploy" section, as a user runs it: `npm pack` in the clone,
 * install the tarball into an empty folder with `--omit=dev`, then `npx ssepush` and
 * `npx ssepush token`, push, and receive the message over SSE. Proves the package holds the
 * compiled output, needs no dev dependency at run time and does not compile at start.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, ROOT, TEST_SECRET } from '../helpers.js';
import { listeningPort, type Started, start, waitForOutput } from './process.js';

const run = promisify(execFile);
const LOOPBACK = { NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };

describe('the npm package', () => {
  let dir: string;
  let app: string;
  let tarball: string;
  const started: Started[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ssepush-pack-'));
    app = join(dir, 'app');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    tarball = join(dir, stdout.trim().split('\n').pop()!);
    await run('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), '{"name":"app","private":true}\n');
    await run(
      'npm',
      ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      { cwd: app, maxBuffer: 16 * 1024 * 1024 },
    );
  }, 240_000);

  afterAll(async () => {
    for (const s of started) await s.stop('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships compiled output, the browser client and the deploy files, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    for (const f of [
      'package/bin/ssepush.js',
      'package/dist/cli/ssepush.js',
      'package/dist/main.js',
      'package/public/ssepush.js',
      'package/deploy/nginx.conf',
      'package/deploy/ssepush.service',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test|bench)\//.test(f) || f.endsWith('.map'))).toEqual([]);
    const installed = readdirSync(join(app, 'node_modules'));
    for (const dev of ['typescript', 'tsx', 'vitest', '@biomejs']) expect(installed).not.toContain(dev);
  });

  it('npx ssepush serves and npx ssepush token mints tokens that push and receive', async () => {
    const env = { ...process.env, ...LOOPBACK, JWT_SECRET: TEST_SECRET, NODE_ENV: 'production' };
    const server = start('npx', ['--no-install', 'ssepush'], {
      cwd: app,
      env: { ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    });
    started.push(server);
    const port = await waitForOutput(server, listeningPort, 90_000);
    const url = `http://127.0.0.1:${port}`;

    const token = async (...args: string[]) =>
      (await run('npx', ['--no-install', 'ssepush', 'token', ...args], { cwd: app, env })).stdout.trim();
    const sub = await token('--sub', '42');
    const pub = await token('--push');

    const c = await openEvents(url, sub);
    await c.waitForId();
    const res = await fetch(`${url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '42', data: { text: 'from the package' } }),
    });
    expect(await res.json()).toMatchObject({ online: true, delivered: 1 });
    const [event] = await c.waitForEvents(1);
    expect(event).toMatchObject({ event: 'message', data: '{"text":"from the package"}' });
    c.close();
    expect((await fetch(`${url}/ssepush.js`)).status).toBe(200);

    // SIGTERM reaches npx and the server (one process group); the server drains.
    await server.stop('SIGTERM');
    expect(server.output()).toContain('"msg":"shutting down"');
    expect(server.output()).not.toMatch(/"level":50|failed to start/);
    expect(existsSync(join(app, 'node_modules/ssepush/dist/main.js'))).toBe(true);
  }, 180_000);

  it('npx ssepush token without JWT_SECRET says where demo tokens are', async () => {
    const err = await run('npx', ['--no-install', 'ssepush', 'token', '--sub', '42'], {
      cwd: app,
      env: { ...process.env, JWT_SECRET: '' },
    }).catch((e: { stderr: string; code: number }) => e);
    expect(err).toMatchObject({ code: 1, stderr: expect.stringContaining('/demo/tokens') });
  }, 60_000);
});
