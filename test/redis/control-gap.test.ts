/**
 * The Redis control channel under trouble: commands are lost while a node's subscription is down,
 * so its revocation mirror reloads from Redis when the subscription comes back (connects wait
 * with 503 meanwhile); unreadable commands on the channel are dropped without harm.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { loadConfig } from '../../src/config.js';
import { nowSec } from '../../src/revocations.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually } from './cluster-helpers.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`Redis control channel gaps${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  it('reloads revocations missed while the subscription was down, and ignores garbage commands', async () => {
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), REDIS_URL: redis.url });
    const broker = await createRedisBroker(config);
    const admin = new Redis(redis.url);
    try {
      const seen: string[] = [];
      broker.control.listen((cmd) => seen.push(cmd.op));
      for (const text of ['not json', '{"op":"disconnect"}', '{"op":"revoke","uids":[1],"at":1}', 'null'])
        await admin.publish('ssepush:ctl', text);
      await broker.control.send({ op: 'disconnect', uids: ['a'], reason: 'r', reconnect: true });
      await eventually(() => seen.length > 0, 2000, 'the valid command');
      expect(seen).toEqual(['disconnect']);

      // A revocation this node never heard of: written to Redis as another node's script would,
      // but never published (as if published while this node's subscription was down).
      const at = nowSec();
      await admin.zadd('ssepush:revoked', at, 'gap');
      expect(broker.revocations.isRevoked('gap', at - 1)).toBe(false);
      await admin.client('KILL', 'TYPE', 'pubsub');
      await eventually(
        () => {
          try {
            return broker.revocations.isRevoked('gap', at - 1);
          } catch {
            return false; // 503 while the mirror reloads
          }
        },
        10_000,
        'the mirror to reload after the subscription came back',
      );
      expect(broker.revocations.isRevoked('gap', at)).toBe(false);
    } finally {
      await broker.close();
      admin.disconnect();
    }
  });
});
