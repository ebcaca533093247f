/**
 * Issue 16.10 (Redis part): log lines never carry a push payload. ioredis attaches the failed
 * command with all its arguments to its errors (`err.command.args`), so logging the error as is
 * logged every payload of the batch.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();
const SECRET = 'payload-secret-7f3a9c';

describe.skipIf(skip !== undefined)(`Redis error logs${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  it('a failed publish logs the error without the payload, the script arguments or the names', async () => {
    let lines = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines += String(chunk);
        done();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const pub = new Redis(redis.url);
    const sub = new Redis(redis.url);
    const broker = new RedisBroker({ pub, sub, prefix, size: 10, ttlMs: 0, maxStreams: 100, log });
    try {
      await broker.ready();
      // A foreign key of the wrong type makes the publish script fail.
      await redis.client().set(`${prefix}h:u:victim`, 'x');
      const data = JSON.stringify({ secret: SECRET });
      await expect(
        broker.publish([{ to: ['victim'], groups: ['grp-secret'], event: 'message', data }]),
      ).rejects.toMatchObject({ kind: 'unavailable' });
      // A second failure path: the command connection is gone.
      pub.disconnect();
      await expect(broker.publish([{ to: ['x'], groups: [], event: 'message', data }])).rejects.toMatchObject(
        {
          kind: 'unavailable',
        },
      );
      await expect(broker.replay(['u:x'], 'a-1')).rejects.toMatchObject({ kind: 'unavailable' });
    } finally {
      await broker.close();
      pub.disconnect();
      sub.disconnect();
    }
    expect(lines).toContain('redis call failed');
    expect(lines).not.toContain(SECRET);
    expect(lines).not.toContain('grp-secret');
    expect(lines).not.toMatch(/"args"/);
  });
});
