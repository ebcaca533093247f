/**
 * The Redis subscription comes back after an outage. Messages published while it was down
 * never reached this node, so the hub must hear "resync" (hold live fan-out, catch up from history)
 * before it is handed any message from the restored subscription: a live connection handed a
 * newer message first would move its Last-Event-ID past the ones it missed, and its replay
 * would skip them for good.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { loadConfig } from '../../src/config.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`Redis resubscribe${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  it('resync reaches the hub before any message of the restored subscription (under a publish flood)', async () => {
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), REDIS_URL: redis.url });
    const broker = await createRedisBroker(config);
    const admin = new Redis(redis.url);
    const flooder = new Redis(redis.url);
    try {
      const log: string[] = [];
      let down = false;
      broker.subscribe((m) => log.push(down ? `after-outage ${m.seq}` : 'before'));
      // The outage starts when the subscriber connection closes: what arrived before was sent on it.
      (broker as unknown as { sub: Redis }).sub.on('close', () => {
        down = true;
      });
      broker.onResync(() => {
        log.push('resync');
        down = false;
      });
      // Another node keeps publishing (records in the broker's wire format).
      let stop = false;
      let n = 0;
      const flood = (async () => {
        while (!stop && n < 2_000_000) {
          const p = flooder.pipeline();
          for (let i = 0; i < 200; i++) {
            n++;
            p.publish('ssepush:msg', `e0 ${n} 1 {"e":"m","o":["u"],"g":[]}\n1`);
          }
          await p.exec();
        }
      })();
      await new Promise((r) => setTimeout(r, 100));
      await admin.client('KILL', 'TYPE', 'pubsub');
      const deadline = Date.now() + 10_000;
      while (!log.includes('resync') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      stop = true;
      await flood;
      const i = log.indexOf('resync');
      expect(i).toBeGreaterThan(0);
      // Nothing from the restored subscription before the resync.
      expect(log.slice(0, i).filter((e) => e.startsWith('after-outage'))).toEqual([]);
      expect(log.slice(i + 1).length).toBeGreaterThan(0);
    } finally {
      await broker.close();
      admin.disconnect();
      flooder.disconnect();
    }
  });
});
