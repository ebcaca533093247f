/** WORKERS=N: one command, N processes sharing the port, one push server through Redis. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openEvents, type SpawnedServer, type SseClient, spawnServer, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { pushTo } from './cluster-helpers.js';

const skip = redisSkipReason();

describe('WORKERS configuration', () => {
  it('needs REDIS_URL above 1 and accepts 1 without it', () => {
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(/WORKERS.*REDIS_URL/);
    expect(() => loadConfig({ WORKERS: '0' })).toThrow(/WORKERS/);
    expect(loadConfig({ WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig({ WORKERS: '3', REDIS_URL: 'redis://127.0.0.1:6379' }).workers).toBe(3);
  });
});

describe.skipIf(skip !== undefined)(`WORKERS=2 on one port${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let server: SpawnedServer;
  const clients: SseClient[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    server = await spawnServer({ REDIS_URL: redis.url, WORKERS: '2' }, 30_000);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.stop('SIGKILL');
    await redis?.close();
  });

  it('both workers listen on the one shared port, every client gets every broadcast; SIGTERM drains all', async () => {
    // Wait until the second worker is listening too.
    const deadline = Date.now() + 20_000;
    while ((server.output().match(/"msg":"listening"/g) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(`second worker did not start:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ports = [...server.output().matchAll(/"port":(\d+)[^\n]*"msg":"listening"/g)].map((m) => m[1]);
    expect(new Set(ports).size).toBe(1);
    for (let i = 0; i < 8; i++) clients.push(await openEvents(server.url, subToken(`w${i}`)));
    await Promise.all(clients.map((c) => c.waitForId()));
    const r = await pushTo(server, { data: { all: true } });
    expect(r.status).toBe(200);
    await Promise.all(clients.map((c) => c.waitForEvents(1)));
    for (const c of clients) expect(c.events[0]!.id).toBe(r.body.id);
    const workers = new Set([...server.output().matchAll(/"worker":(\d+)/g)].map((m) => m[1]));
    expect(workers.size).toBe(2);
    expect(await server.stop('SIGTERM')).toBe(0);
    await Promise.all(clients.map((c) => c.waitUntil(() => c.closed, 5000, 'drain')));
  });
});
