/** The broker contract against a real three-master Redis Cluster (cluster-mode Redis). */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { type RedisClusterSet, startRedisCluster } from '../redis/redis-cluster.js';
import { redisSkipReason } from '../redis-server.js';
import { brokerContract } from './broker-contract.js';

const skip = redisSkipReason();
let cluster: RedisClusterSet | undefined;
beforeAll(async () => {
  if (!skip) cluster = await startRedisCluster();
}, 60_000);
afterAll(() => cluster?.close());

brokerContract(
  `RedisBroker (real three-master Redis Cluster)${skip ? ` — skipped: ${skip}` : ''}`,
  async (o) => {
    const seed = [{ host: '127.0.0.1', port: cluster!.ports[0]! }];
    const pub = new Cluster(seed);
    // As in production (src/redis-connect.ts): the subscription is a plain connection to one node.
    const sub = new Redis(seed[0]!);
    // Each test gets its own prefix (hash-tagged by the broker: one slot per test).
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
