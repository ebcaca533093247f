import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openEvents,
  poll,
  ROOT,
  type SpawnedServer,
  spawnServer,
  subToken,
  TEST_SECRET,
} from '../helpers.js';

const run = promisify(execFile);
let spawned: SpawnedServer[] = [];
afterEach(async () => {
  for (const p of spawned) await p.stop('SIGKILL');
  spawned = [];
});
async function server(env: Record<string, string> = {}) {
  const p = await spawnServer(env);
  spawned.push(p);
  return p;
}

describe('the server process', () => {
  it('starts in demo mode without JWT_SECRET, printing tokens and a curl push that works', async () => {
    const p = await server({ JWT_SECRET: '' });
    await new Promise((r) => setTimeout(r, 200));
    const out = p.output();
    expect(out).toContain('demo mode');
    const sub = /events\?token=([\w.-]+)/.exec(out)?.[1];
    const pub = /Bearer ([\w.-]+)/.exec(out)?.[1];
    expect(sub && pub).toBeTruthy();
    const c = await openEvents(p.url, sub!);
    await c.waitForId();
    const res = await fetch(`${p.url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'demo', data: { text: 'hello' } }),
    });
    expect(res.status).toBe(200);
    await c.waitForEvents(1);
    c.close();
    // The printed README tokens: $SUB for uid 42, $PUB a publisher token.
    const exported = /export SUB=([\w.-]+) PUB=([\w.-]+)/.exec(out);
    expect(jwt.decode(exported![1]!)).toMatchObject({ sub: '42' });
    expect(jwt.decode(exported![2]!)).toMatchObject({ scope: 'push' });
    // The demo page connects as the uid the printed push goes to.
    const page = await (await fetch(`${p.url}/`)).text();
    expect(page).toContain('id="uid" value="demo"');
    const tokens = await fetch(`${p.url}/demo/tokens?uid=alice&groups=a,b`);
    expect(await tokens.json()).toMatchObject({ uid: 'alice', groups: ['a', 'b'] });
  });

  it('refuses to start in production without a key, naming the variable', async () => {
    await expect(server({ JWT_SECRET: '', NODE_ENV: 'production' })).rejects.toThrow(/JWT_SECRET/);
  });

  it('refuses an invalid value at start-up, naming the variable', async () => {
    await expect(server({ HISTORY_SIZE: 'lots' })).rejects.toThrow(/HISTORY_SIZE/);
  });

  it('drains on SIGTERM: streams end, waiting polls get 200 with their cursor, exit 0', async () => {
    const p = await server({ SHUTDOWN_TIMEOUT_SECONDS: '5' });
    const c = await openEvents(p.url, subToken('t'));
    await c.waitForId();
    const { cursor } = await poll(p.url, subToken('t'));
    const waiting = poll(p.url, subToken('t'), cursor, 30);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const code = await p.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await waiting).toEqual({ messages: [], cursor });
    await c.waitUntil(() => c.closed, 2000, 'the stream to end');
  });

  it('gives resuming clients a reset after a restart (in-memory history is gone)', async () => {
    const a = await server();
    const c = await openEvents(a.url, subToken('re'));
    const id = await c.waitForId();
    c.close();
    await a.stop();
    const b = await server();
    const back = await openEvents(b.url, subToken('re'), id);
    await back.waitForEvents(1);
    expect(back.events[0]).toMatchObject({ event: 'reset', data: '{"reason":"epoch_changed"}' });
    back.close();
  });
});

describe('npm run token', () => {
  const token = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, JWT_SECRET: TEST_SECRET },
    });

  it('mints a subscriber token with sub, groups and ttl', async () => {
    const { stdout } = await token(['--sub', '42', '--groups', 'a,b', '--ttl', '3600']);
    const claims = jwt.verify(stdout.trim(), TEST_SECRET) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: '42', groups: ['a', 'b'] });
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('mints tokens that expire in an hour unless --ttl says otherwise', async () => {
    for (const args of [['--sub', '42'], ['--push']]) {
      const { stdout } = await token(args);
      const claims = jwt.verify(stdout.trim(), TEST_SECRET) as jwt.JwtPayload;
      expect(claims.exp! - claims.iat!).toBe(3600);
    }
  });

  it('mints a publisher token', async () => {
    const { stdout } = await token(['--push']);
    expect(jwt.verify(stdout.trim(), TEST_SECRET)).toMatchObject({ scope: 'push' });
  });

  it('fails clearly without JWT_SECRET', async () => {
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', '--push'], {
        cwd: ROOT,
        env: { ...process.env, JWT_SECRET: '' },
      }),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('JWT_SECRET') });
  });
});
