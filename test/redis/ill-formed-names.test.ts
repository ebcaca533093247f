/**
 * Issue 16.4 on Redis: Redis keys are bytes, and UTF-8 has no lone surrogates, so `"\ud83d"` and
 * `"\ufffd"` once shared a key: a token for one replayed what was pushed to the other. The edge
 * refuses such names, and the broker encodes keys injectively (WTF-8) besides.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { RedisPresence } from '../../src/presence-redis.js';
import { poll, startServer, subToken, type TestServer } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually } from './cluster-helpers.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`lone surrogates on Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let s: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    s = await startServer({ REDIS_URL: redis.url }, (config) => createRedisBroker(config));
  });
  afterAll(async () => {
    await s?.close();
    await redis?.close();
  });

  it('a push to "\\ud83d" is refused and never replayed to "\\ufffd" (nor the reverse)', async () => {
    const start = (await poll(s.url, subToken('\ufffd'), undefined, 0)).cursor;
    const pushed = await s.push({ to: '\ud83d', data: 'for the lone surrogate' });
    expect(pushed.status).toBe(400);
    const grp = await s.push({ group: 'g\udc00', data: 'for the lone group' });
    expect(grp.status).toBe(400);
    const r = await poll(s.url, subToken('\ufffd', { groups: ['g\ufffd'] }), start, 0);
    expect(r.messages).toEqual([]);
    // Well-formed names still work.
    expect((await s.push({ to: '\ufffd', data: 'mine' })).status).toBe(200);
    const mine = await poll(s.url, subToken('\ufffd'), start, 0);
    expect(mine.messages.map((m) => m.data)).toEqual(['mine']);
  });
});

describe.skipIf(skip !== undefined)(`lone surrogates in Redis presence${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  it('a connection of "\\ud83d" on another node is not counted for "\\ufffd"', async () => {
    const prefix = `p${randomBytes(4).toString('hex')}:`;
    const ca = new Redis(redis.url);
    const cb = new Redis(redis.url);
    const a = new RedisPresence({ client: ca, prefix });
    const b = new RedisPresence({ client: cb, prefix });
    try {
      a.add('\ud83d', ['g\udc00']);
      await eventually(async () => (await b.online()).connections === 1, 3000, 'a written');
      expect((await b.online(['\ufffd'])).online).toEqual({ '\ufffd': 0 });
      expect((await b.online(['\ud83d'])).online).toEqual({ '\ud83d': 1 });
      expect(await b.reach([{ to: [], groups: ['g\ufffd'] }])).toEqual([0]);
    } finally {
      await a.close();
      await b.close();
      ca.disconnect();
      cb.disconnect();
    }
  });
});
