/**
 * Redis comes back with OLDER data than the nodes have seen (a crash with `appendfsync
 * everysec`, a failover to a lagging replica, a restore from a snapshot). The epoch survives in
 * the restored `state` hash, so without a guard the next publishes reuse ids clients already hold,
 * with other content: live connections drop them as duplicates and resumes skip them.
 *
 * The test reproduces the rollback with an RDB snapshot: SAVE, publish more, restart (the server
 * runs with `--save ''`, so it does not save on shutdown and loads the older snapshot).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { parseId } from '../../src/ids.js';
import { streamsOfSubscriber } from '../../src/message.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();
const to = (uid: string, n: number) => ({ to: [uid], groups: [], event: 'm', data: String(n) });

describe.skipIf(skip !== undefined)(`Redis rolled back${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  it('ids are never reused and a resume across the lost messages is a reset, not a silent gap', async () => {
    const opts = { retryStrategy: () => 50, maxRetriesPerRequest: 1 };
    const pub = new Redis(redis.url, opts);
    const sub = new Redis(redis.url, { ...opts, autoResubscribe: false });
    const broker = new RedisBroker({ pub, sub, size: 100, ttlMs: 0, maxStreams: 1000 });
    const admin = new Redis(redis.url, opts);
    try {
      await broker.ready();
      const before = await broker.publish([to('a', 1), to('b', 2)]);
      await admin.save();
      const lost = await broker.publish([to('a', 3), to('b', 4)]); // gone with the restart
      await redis.stop();
      await redis.start();
      await broker.ready();
      const after = await broker.publish([to('a', 5)]);
      const seen = new Set([...before, ...lost].map((m) => m.id));
      expect(seen.has(after[0]!.id)).toBe(false);
      const newest = parseId(lost[lost.length - 1]!.id)!;
      const next = parseId(after[0]!.id)!;
      expect(next.epoch !== newest.epoch || next.seq > newest.seq).toBe(true);
      // A client of `a` that had seen message 1 but not 3 cannot be replayed completely: 3 is gone.
      const r = await broker.replay(streamsOfSubscriber('a', []), before[0]!.id);
      expect(r.complete).toBe(false);
      // A client that had everything up to the newest id it was given replays exactly, no reset.
      const ok = await broker.replay(streamsOfSubscriber('a', []), lost[lost.length - 1]!.id);
      expect(ok.complete).toBe(true);
      expect(ok.messages.map((m) => m.id)).toEqual([after[0]!.id]);
    } finally {
      await broker.close();
      pub.disconnect();
      sub.disconnect();
      admin.disconnect();
    }
  });
});
