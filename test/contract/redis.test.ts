import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { RedisPresence } from '../../src/presence-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { brokerContract } from './broker-contract.js';
import { presenceContract } from './presence-contract.js';

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

presenceContract(
  `RedisPresence (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  async () => {
    const client = new Redis(redis!.url);
    // Each test gets its own key prefix: its own cluster, without flushing the server.
    const presence = new RedisPresence({ client, prefix: `p${randomBytes(4).toString('hex')}:` });
    return {
      presence,
      async close() {
        await presence.close();
        client.disconnect();
      },
    };
  },
  skip,
);
