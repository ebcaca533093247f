/**
 * Issue 16.5: a batch is all-or-nothing on Redis. It used to be published in chunks of 200, one
 * script each: when a later chunk failed, the publisher got 503 after part of the batch was
 * published, and a retry duplicated that part under new ids. Now the whole batch is one script
 * call that checks everything it will write before writing anything.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import type { PublishInput } from '../../src/message.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`Redis batches are all-or-nothing${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    const admin = redis.client();
    await admin.config('SET', 'maxmemory', '0');
    for (const c of closers.splice(0).reverse()) await c();
  });
  afterAll(() => redis?.close());

  const make = async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const pub = new Redis(redis.url);
    const sub = new Redis(redis.url);
    const broker = new RedisBroker({ pub, sub, prefix, size: 1000, ttlMs: 0, maxStreams: 100_000 });
    await broker.ready();
    closers.push(async () => {
      await broker.close();
      pub.disconnect();
      sub.disconnect();
    });
    return { broker, prefix };
  };
  const item = (to: string, data: string): PublishInput => ({ to: [to], groups: [], event: 'message', data });
  /** Messages of this broker's prefix held in Redis, across all streams. */
  const held = async (prefix: string) => {
    const c = redis.client();
    const seq = await c.hget(`${prefix}state`, 'seq');
    return Number(seq ?? 0);
  };

  it('Redis running out of memory in the middle of a 1000-message batch publishes all of it or none', async () => {
    const { broker, prefix } = await make();
    const admin = redis.client();
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    // Room for about half of the batch (its arguments count too): a chunked publish fails at a later chunk.
    await admin.config('SET', 'maxmemory', String(used + 5 * 1024 * 1024));
    const data = JSON.stringify('x'.repeat(10 * 1024));
    const batch = Array.from({ length: 1000 }, (_, i) => item(`u${i}`, data));
    let published = -1;
    try {
      published = (await broker.publish(batch)).length;
    } catch (err) {
      expect(err).toMatchObject({ kind: 'unavailable' });
      published = 0;
    }
    await admin.config('SET', 'maxmemory', '0');
    expect([0, 1000]).toContain(published);
    expect(await held(prefix)).toBe(published);
  });

  it('a batch that cannot be written whole (a foreign key in the way) publishes none of it', async () => {
    const { broker, prefix } = await make();
    const admin = redis.client();
    await admin.set(`${prefix}h:u:blocked`, 'not a sorted set');
    for (const at of [3, 350]) {
      const batch = Array.from({ length: 400 }, (_, i) => item(i === at ? 'blocked' : `u${i}`, '1'));
      await expect(broker.publish(batch)).rejects.toMatchObject({ kind: 'unavailable' });
      expect(await held(prefix)).toBe(0);
    }
    // Nothing half-written either: no stream of the batch was created.
    expect(await admin.exists(`${prefix}h:u:0`, `${prefix}h:u:399`)).toBe(0);
    const ok = await broker.publish([item('fine', '2')]);
    expect(ok).toHaveLength(1);
  });
});
