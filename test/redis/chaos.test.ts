/**
 * The seeded delivery checker (test/chaos) run against the Redis backend, where fan-out
 * goes through pub/sub on another connection than replay: the replay/live seam is a real race
 * there, not a synchronous call as in memory mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { runChaos } from '../chaos/checker.js';
import { redisOutage, sentinelFailover } from '../chaos/disruptions.js';
import { startServer, type TestServer } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { type SentinelSet, startSentinels } from './topologies.js';

const skip = redisSkipReason();
const HISTORY_SIZE = 16;

describe.skipIf(skip !== undefined)(`chaos on Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let s: TestServer;
  beforeAll(async () => {
    // Kept across its restarts (append-only file): an outage is a blip, not a wiped Redis.
    redis = await startRedis({ persist: true });
    s = await startServer(
      {
        REDIS_URL: redis.url,
        HISTORY_SIZE: String(HISTORY_SIZE),
        HISTORY_TTL_SECONDS: '0',
        HEARTBEAT_SECONDS: '1',
      },
      createRedisBroker,
    );
  });
  afterAll(async () => {
    await s?.close();
    await redis?.close();
  });

  it('3,000 operations on Redis with two Redis outages: no loss, no duplicate, no reorder, reset exactly when the window was exceeded', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? 20261128);
    const stats = await runChaos(s, {
      ops: 3000,
      seed,
      historySize: HISTORY_SIZE,
      disruptions: { every: 1000, list: [redisOutage(redis, 500)] },
    });
    console.log(`chaos on Redis, seed ${seed}: ${JSON.stringify(stats)}`);
    expect(stats.ops).toBe(3000);
    expect(stats.replays).toBeGreaterThan(10);
    expect(stats.disruptions).toBe(2);
    expect(stats.joins + stats.leaves).toBeGreaterThan(10);
  }, 180_000);
});

describe.skipIf(skip !== undefined)(
  `chaos on Redis with a Sentinel failover${skip ? ` (${skip})` : ''}`,
  () => {
    let set: SentinelSet;
    let s: TestServer;
    beforeAll(async () => {
      set = await startSentinels(1, 1000);
      s = await startServer(
        {
          REDIS_SENTINELS: set.sentinels,
          REDIS_SENTINEL_NAME: set.name,
          HISTORY_SIZE: String(HISTORY_SIZE),
          HISTORY_TTL_SECONDS: '0',
          HEARTBEAT_SECONDS: '1',
        },
        createRedisBroker,
      );
    }, 60_000);
    afterAll(async () => {
      await s?.close();
      await set?.close();
    });

    it('1,000 operations with a kill -9 of the primary at the 500th: no loss, no duplicate, no reorder, no needless reset', async () => {
      const seed = Number(process.env.CHAOS_SEED ?? 20261206);
      const stats = await runChaos(s, {
        ops: 1000,
        seed,
        historySize: HISTORY_SIZE,
        disruptions: { every: 500, list: [sentinelFailover(set)] },
      });
      console.log(`chaos with a Sentinel failover, seed ${seed}: ${JSON.stringify(stats)}`);
      expect(stats.disruptions).toBe(1);
    }, 180_000);
  },
);
