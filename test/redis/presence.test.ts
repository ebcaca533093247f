/** RedisPresence against a real redis-server: cluster totals, immediacy, dead-node reaping, wiped Redis. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPresence } from '../../src/presence-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually } from './cluster-helpers.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`RedisPresence${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.close());

  const node = (prefix: string, deadMs = 60_000) => {
    const client = new Redis(redis.url);
    const p = new RedisPresence({ client, prefix, deadMs });
    return { p, client };
  };

  it('answers uids named like Object.prototype members (__proto__ was dropped)', async () => {
    const a = node(`p${randomBytes(4).toString('hex')}:`);
    try {
      a.p.add('__proto__', []);
      a.p.add('constructor', []);
      const stats = await a.p.online(['__proto__', 'constructor', 'toString']);
      expect(JSON.stringify(stats.online)).toBe('{"__proto__":1,"constructor":1,"toString":0}');
      await a.p.close();
    } finally {
      a.client.disconnect();
    }
  });

  it('sums nodes, counts its own changes at once, and forgets a dead node', async () => {
    const prefix = `p${randomBytes(4).toString('hex')}:`;
    const a = node(prefix, 600);
    const b = node(prefix, 600);
    try {
      a.p.add('u1', ['g']);
      a.p.add('u1', []);
      b.p.add('u1', ['g']);
      b.p.add('u2', []);
      // Own changes count before they are written.
      expect((await a.p.online(['u1'])).online).toEqual({ u1: 2 });
      await eventually(async () => (await a.p.online(['u1'])).online?.u1 === 3, 2000, 'b visible on a');
      const stats = await a.p.online(['u1', 'u2', 'nobody']);
      expect(stats).toEqual({ uids: 2, connections: 4, online: { u1: 3, u2: 1, nobody: 0 } });
      const [toU1, toG, both, all] = await a.p.reach([
        { to: ['u1'], groups: [] },
        { to: [], groups: ['g'] },
        { to: ['u1'], groups: ['g'] },
        { to: [], groups: [] },
      ]);
      expect([toU1, toG, all]).toEqual([3, 2, 4]);
      expect(both).toBe(4); // upper bound (3 + 2) capped at all connections
      // b dies without a goodbye: its share goes once it is silent for deadMs.
      b.client.disconnect();
      await b.p.close();
      await eventually(async () => (await a.p.online(['u2'])).online?.u2 === 0, 3000, 'dead node reaped');
      expect(await a.p.online(['u1'])).toEqual({ uids: 1, connections: 2, online: { u1: 2 } });
      a.p.remove('u1', ['g']);
      await a.p.close(); // a clean goodbye removes the rest
      const c = redis.client();
      expect(await c.get(`${prefix}conns`)).toBe('0');
      expect(await c.hlen(`${prefix}pres`)).toBe(0);
    } finally {
      a.client.disconnect();
      b.client.disconnect();
    }
  });

  it('writes its whole state again after Redis lost its data', async () => {
    const prefix = `p${randomBytes(4).toString('hex')}:`;
    const a = node(prefix);
    const b = node(prefix);
    try {
      a.p.add('w1', []);
      await eventually(async () => (await b.p.online(['w1'])).online?.w1 === 1, 2000, 'w1 online');
      await redis.client().flushall();
      await eventually(async () => (await b.p.online(['w1'])).online?.w1 === 1, 8000, 'w1 rewritten');
      expect((await b.p.online()).uids).toBe(1);
    } finally {
      await a.p.close();
      await b.p.close();
      a.client.disconnect();
      b.client.disconnect();
    }
  }, 15_000);
});
