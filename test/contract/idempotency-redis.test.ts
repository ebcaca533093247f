import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { fingerprintOf } from '../../src/idempotency.js';
import { RedisIdempotencyStore } from '../../src/idempotency-redis.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { hubOver, idempotencyContract, keyed, type StoreUnderTest, settle } from './idempotency-contract.js';

const skip = redisSkipReason();
let redis: TestRedis | undefined;
beforeAll(async () => {
  if (!skip) redis = await startRedis();
});
afterAll(() => redis?.close());

/** One node: its own clients and broker on a shared prefix, a hub, and a Redis store. */
async function node(prefix: string, ttlMs: number, answerWaitMs?: number): Promise<StoreUnderTest> {
  const pub = new Redis(redis!.url);
  const sub = new Redis(redis!.url);
  const broker = new RedisBroker({ pub, sub, prefix, size: 100, ttlMs: 0, maxStreams: 1000 });
  await broker.ready();
  const { hub, seen } = hubOver(broker);
  const store = new RedisIdempotencyStore({
    client: pub,
    prefix,
    ttlMs,
    ...(answerWaitMs !== undefined ? { answerWaitMs } : {}),
  });
  return {
    store,
    hub,
    seen,
    async close() {
      await store.close();
      await hub.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

const fresh = () => `t${randomBytes(4).toString('hex')}:`;

idempotencyContract(
  `RedisIdempotencyStore (real redis-server)${skip ? ` — skipped: ${skip}` : ''}`,
  ({ ttlMs }) => node(fresh(), ttlMs),
  skip,
);

describe.skipIf(skip !== undefined)('RedisIdempotencyStore across nodes', () => {
  const m = (d: string) => ({ to: ['u'], groups: [], event: 'message', data: JSON.stringify(d) });

  it('two nodes given one key concurrently publish once and answer alike', async () => {
    const prefix = fresh();
    const a = await node(prefix, 60_000);
    const b = await node(prefix, 60_000);
    try {
      const runs = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).store.run(keyed('same', [m('x')]), (i % 2 ? a : b).hub),
        ),
      );
      expect(runs.filter((r) => r.kind === 'published').length).toBe(1);
      const answers = runs.map((r) => (r.kind === 'conflict' ? null : r.answers));
      for (const x of answers) expect(x).toEqual(answers[0]);
      await settle();
      expect(a.seen.length).toBe(1);
      expect(b.seen.length).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a record whose node died before storing its answer is answered from the ids', async () => {
    const prefix = fresh();
    const a = await node(prefix, 60_000, 200);
    try {
      const inputs = [m('y')];
      // The script ran (published and recorded the ids) but no answer was ever added.
      const r = await a.hub.publishOnce(inputs, {
        key: `${prefix}idem:dead`,
        fingerprint: fingerprintOf(inputs, false),
        ttlMs: 60_000,
      });
      if (r.kind !== 'published') throw new Error('expected a publish');
      const replay = await a.store.run(keyed('dead', inputs), a.hub);
      expect(replay).toEqual({
        kind: 'replayed',
        answers: [{ id: r.value[0]!.id, online: false, delivered: 0 }],
      });
      await settle();
      expect(a.seen.length).toBe(1);
    } finally {
      await a.close();
    }
  });
});
