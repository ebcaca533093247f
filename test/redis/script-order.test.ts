/**
 * A script call keeps its place among the commands sent after it, also the first call after
 * Redis restarted (its script cache empty). Before, `Script.run` sent `EVALSHA`, and on
 * `NOSCRIPT` sent `EVAL` again, behind whatever the node had sent meanwhile: after a Redis
 * outage a fresh stream's position read could run after a push sent once the stream was open,
 * so the stream announced the push's id and never got the push (the chaos checker's "event 0
 * after …-700 is …-702, expected …-701", seeds 8, 9, 13, 14, 15 with outages).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { loadConfig } from '../../src/config.js';
import { parseId } from '../../src/ids.js';
import { Script } from '../../src/redis-scripts.js';
import { redisSkipReason, startRedis } from '../redis-server.js';

const skip = redisSkipReason();
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const until = async (f: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.skipIf(skip !== undefined)(`script call order${skip ? ` (${skip})` : ''}`, () => {
  it('a script Redis does not know yet runs before a command sent after it', async () => {
    const redis = await startRedis();
    closers.push(() => redis.close());
    const client = new Redis(redis.url);
    closers.push(async () => client.disconnect());
    const incr = new Script(`return redis.call('INCR', KEYS[1])`);
    await client.call('SCRIPT', 'FLUSH');
    const first = incr.run(client, 'n', []);
    const after = client.incr('n');
    expect(await first).toBe(1);
    expect(await after).toBe(2);
    // Known now: by SHA, still in order.
    const again = incr.run(client, 'n', []);
    const later = client.incr('n');
    expect(await again).toBe(3);
    expect(await later).toBe(4);
  });

  it('after a Redis restart, a position read sent before a publish is not overtaken by it', async () => {
    const redis = await startRedis({ persist: true });
    closers.push(() => redis.close());
    const b = await createRedisBroker(loadConfig({ REDIS_URL: redis.url, LOG_LEVEL: 'silent' }));
    closers.push(() => b.close());
    const msg = { to: ['a'], groups: [], exclude: [], event: 'm', data: '1' };
    await b.position();
    await b.publish([msg]);
    await redis.stop();
    await until(() => !b.healthy, 5000);
    await redis.start();
    await until(() => b.healthy, 10_000);
    // The publish script is loaded again, the position script not yet: the case of a fresh
    // stream opened after the outage, then a push.
    await b.publish([msg]);
    const position = b.position();
    const [m] = await b.publish([msg]);
    expect(parseId(await position)!.seq).toBe(m!.seq - 1);
  }, 30_000);
});
