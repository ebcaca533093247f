/**
 * The Redis control channel under trouble: commands are lost while a node's subscription is down,
 * so its revocation mirror reloads from Redis when the subscription comes back (connects wait
 * with 503 meanwhile); unreadable commands on the channel are dropped without harm. The mirror is
 * incomplete from the moment the channel is lost, so a node whose fan-out channel is back before
 * its control channel is not healthy yet.
 */
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
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

  it('is not healthy while its fan-out channel is back but its control channel is not', async () => {
    let lines = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines += String(chunk);
        done();
      },
    });
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), REDIS_URL: redis.url });
    const broker = await createRedisBroker(config, pino({ level: 'warn' }, sink));
    const admin = new Redis(redis.url);
    try {
      expect(broker.healthy).toBe(true);
      // The default user may subscribe to the fan-out and groups channels, not the control one.
      // Redis drops the subscriber connection (its channels are no longer allowed); it comes back,
      // its fan-out channel is subscribed again, and the control SUBSCRIBE is refused (NOPERM):
      // the same state as the moment between the two SUBSCRIBE replies after any outage.
      await admin.call('ACL', 'SETUSER', 'default', 'resetchannels', '&ssepush:msg', '&ssepush:groups');
      await eventually(() => lines.includes('control subscribe failed'), 10_000, 'the refused SUBSCRIBE');
      expect(await admin.call('PUBSUB', 'NUMSUB', 'ssepush:msg')).toEqual(['ssepush:msg', 1]);
      // Revocations sent meanwhile never reach this node: its mirror is incomplete, so it is not
      // healthy (`/healthz` 503, pushes and connects 503 alike) rather than healthy and stale.
      const at = nowSec();
      await admin.zadd('ssepush:revoked', at, 'unheard');
      expect(broker.revocations.ready).toBe(false);
      expect(broker.healthy).toBe(false);
      // No reload is under way until the channel is back: a connect is refused at once, not held.
      expect(broker.revocations.loading(2000)).toBeUndefined();

      // Allowed again: the SUBSCRIBE is retried on the live connection, the mirror reloads.
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
      await eventually(() => broker.healthy, 10_000, 'healthy once the control channel is back');
      expect(broker.revocations.isRevoked('unheard', at - 1)).toBe(true);
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
      await broker.close();
      admin.disconnect();
    }
  });
});
