/** Backend disruptions for the chaos checker's schedule (see `ChaosOptions.disruptions`). */
import { Redis } from 'ioredis';
import type { SentinelSet } from '../redis/topologies.js';
import type { TestRedis } from '../redis-server.js';
import type { Disruption } from './checker.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Redis stopped for `ms` and started again on the same port with its data (start it with
 * `persist: true`, or every outage is a wiped Redis): what a restart or a network blip does.
 */
export function redisOutage(redis: TestRedis, ms: number): Disruption {
  return {
    name: `a ${ms} ms Redis outage`,
    begin: () => redis.stop(),
    async end() {
      await sleep(ms);
      await redis.start();
    },
  };
}

/**
 * A Sentinel failover: once the replica holds everything (a write and `WAIT 1` on the primary),
 * the primary is killed with -9; it ends when the sentinels name the promoted replica. Once per
 * set: the killed primary is not brought back.
 */
export function sentinelFailover(set: SentinelSet): Disruption {
  return {
    name: 'a Sentinel failover (kill -9 of the primary)',
    async begin() {
      const primary = new Redis({ port: set.primary.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      try {
        await primary.incr('chaos:sync');
        const got = await primary.wait(1, 10_000);
        if (got < 1) throw new Error('the replica did not catch up before the failover');
      } finally {
        primary.disconnect();
      }
      await set.primary.kill();
    },
    async end() {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const port = await set.currentPrimaryPort(1).catch(() => set.primary.port);
        if (port !== set.primary.port) return;
        if (Date.now() > deadline) throw new Error('the sentinels did not promote the replica within 60 s');
        await sleep(100);
      }
    },
  };
}
