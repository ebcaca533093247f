import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { brokerContract } from './broker-contract.js';

const skip = redisSkipReason();
let redis: TestRedis | undefined;
beforeAll(async () => {
  if (!skip) redis = await startRedis();
});
afterAll(() => redis?.close());

brokerContract(
  `RedisBroker (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  async (o) => {
    const pub = new Redis(redis!.url);
    const sub = new Redis(redis!.url);
    // Each test gets its own key prefix: a clean history without flushing the server.
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const broker = new RedisBroker({ pub, sub, prefix, ...o });
    await broker.ready();
    return {
      broker,
      async close() {
        await broker.close();
        pub.disconnect();
        sub.disconnect();
      },
    };
  },
  skip,
);
