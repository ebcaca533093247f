import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWebhookQueue } from '../../src/webhook-queue-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { webhookQueueContract } from './webhook-queue-contract.js';

const skip = redisSkipReason();
let redis: TestRedis | undefined;
const clients: Redis[] = [];
beforeAll(async () => {
  if (!skip) redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.close();
});

const make = (prefix: string, max: number) => {
  const client = new Redis(redis!.url);
  clients.push(client);
  return new RedisWebhookQueue({ client, prefix, max });
};

describe.skipIf(skip !== undefined)(`webhook queue on Redis${skip ? ` (${skip})` : ''}`, () => {
  webhookQueueContract('redis', async (max) => make(`t${randomBytes(4).toString('hex')}:`, max));

  it('one lease holder at a time across nodes; another takes over when it lapses', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const a = make(prefix, 10);
    const b = make(prefix, 10);
    expect(await a.lease('a', 300)).toBe(true);
    expect(await b.lease('b', 300)).toBe(false);
    expect(await a.lease('a', 300)).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(await b.lease('b', 300)).toBe(true);
    expect(await a.lease('a', 300)).toBe(false);
  });

  it('events queued by one node are there for another (a node dying loses nothing)', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const a = make(prefix, 10);
    const e = { id: 'x1', type: 'online' as const, uid: 'u', time: 1 };
    await a.push([e]);
    await a.close();
    expect(await make(prefix, 10).peek(10)).toEqual([e]);
  });
});
