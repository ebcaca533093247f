import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { RedisControl } from '../../src/control-redis.js';
import type { DisconnectNoticeOptions } from '../../src/disconnect-notices.js';
import { RedisDisconnectNotices } from '../../src/disconnect-notices-redis.js';
import { RedisPresence } from '../../src/presence-redis.js';
import type { RevocationOptions } from '../../src/revocations.js';
import { RedisRevocations } from '../../src/revocations-redis.js';
import { RedisRuntimeGroups } from '../../src/runtime-groups-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { brokerContract } from './broker-contract.js';
import { disconnectNoticesContract } from './disconnect-notices-contract.js';
import { presenceContract } from './presence-contract.js';
import { revocationsContract } from './revocations-contract.js';
import { runtimeGroupsContract } from './runtime-groups-contract.js';

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

revocationsContract(
  `RedisRevocations (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  async (opts) => {
    // Each test gets its own key prefix: its own deployment, without flushing the server.
    const prefix = `r${randomBytes(4).toString('hex')}:`;
    const closers: (() => Promise<void>)[] = [];
    /** One node: its command and subscriber clients, control channel and revocations mirror. */
    const node = async (o: RevocationOptions) => {
      const pub = new Redis(redis!.url);
      const sub = new Redis(redis!.url);
      const control = new RedisControl({ pub, sub, prefix });
      const revocations = new RedisRevocations({ client: pub, control, prefix, ...o });
      closers.push(async () => {
        await revocations.close();
        await control.close();
        pub.disconnect();
        sub.disconnect();
      });
      await control.ready();
      await revocations.load();
      return revocations;
    };
    const revocations = await node(opts);
    return {
      revocations,
      peer: () => node(opts),
      async close() {
        await Promise.all(closers.map((c) => c()));
      },
    };
  },
  skip,
);

disconnectNoticesContract(
  `RedisDisconnectNotices (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  async (opts) => {
    // Each test gets its own key prefix: its own deployment, without flushing the server.
    const prefix = `n${randomBytes(4).toString('hex')}:`;
    const closers: (() => Promise<void>)[] = [];
    /** One node: its command and subscriber clients, control channel and notices mirror. */
    const node = async (o: DisconnectNoticeOptions) => {
      const pub = new Redis(redis!.url);
      const sub = new Redis(redis!.url);
      const control = new RedisControl({ pub, sub, prefix });
      const notices = new RedisDisconnectNotices({ client: pub, control, prefix, ...o });
      closers.push(async () => {
        await notices.close();
        await control.close();
        pub.disconnect();
        sub.disconnect();
      });
      await control.ready();
      await notices.load();
      return notices;
    };
    const notices = await node(opts);
    return {
      notices,
      peer: () => node(opts),
      async close() {
        await Promise.all(closers.map((c) => c()));
      },
    };
  },
  skip,
);

runtimeGroupsContract(
  `RedisRuntimeGroups (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  async (opts) => {
    // Two nodes: each a command client and a subscribed client, on one prefix.
    const prefix = `r${randomBytes(4).toString('hex')}:`;
    const clients: Redis[] = [];
    const node = async () => {
      const client = new Redis(redis!.url);
      const sub = new Redis(redis!.url);
      clients.push(client, sub);
      const store = new RedisRuntimeGroups({ client, sub, prefix, ...opts });
      // Subscribed before the test starts: a change must reach both nodes.
      for (
        let i = 0;
        i < 200 && (await client.pubsub('NUMSUB', `${prefix}groups`))[1] !== clients.length / 2;
        i++
      )
        await new Promise((r) => setTimeout(r, 10));
      return store;
    };
    const a = await node();
    const b = await node();
    return {
      a,
      b,
      async close() {
        await a.close();
        await b.close();
        for (const c of clients) c.disconnect();
      },
    };
  },
  skip,
);
