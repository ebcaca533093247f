/** Backend disruptions for the chaos checker's schedule (see `ChaosOptions.disruptions`). */
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
