/** RedisBroker behaviour beyond the shared contract: several brokers on one Redis, lost keys, outages. */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker, RedisBroker } from '../../src/broker-redis.js';
import { loadConfig } from '../../src/config.js';
import { parseId } from '../../src/ids.js';
import { streamsOfSubscriber } from '../../src/message.js';
import { collect, input } from '../contract/broker-contract.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`RedisBroker on a real redis-server${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  afterAll(() => redis?.close());

  const make = async (prefix: string, o: { size?: number; ttlMs?: number; maxStreams?: number } = {}) => {
    const pub = new Redis(redis.url);
    const sub = new Redis(redis.url);
    const broker = new RedisBroker({ pub, sub, prefix, size: 100, ttlMs: 0, maxStreams: 1000, ...o });
    await broker.ready();
    closers.push(async () => {
      await broker.close();
      pub.disconnect();
      sub.disconnect();
    });
    return broker;
  };
  const fresh = () => `t${randomBytes(4).toString('hex')}:`;

  it('concurrent publishers on several brokers: one id order, seen identically by every listener', async () => {
    const prefix = fresh();
    const brokers = await Promise.all([1, 2, 3].map(() => make(prefix, { size: 1000 })));
    const seen = brokers.map((b) => collect(b));
    const published = await Promise.all(
      brokers.map(async (b, bi) => {
        const ids: string[] = [];
        for (let i = 0; i < 50; i++) {
          const batch = await b.publish([input(['a'], { bi, i }, ['g']), input([], { bi, i })]);
          ids.push(...batch.map((m) => m.id));
        }
        return ids;
      }),
    );
    const all = published.flat();
    const lists = await Promise.all(seen.map((s) => s.waitFor(all.length, 5000)));
    const ref = lists[0]!.map((m) => m.id);
    for (const l of lists) expect(l.map((m) => m.id)).toEqual(ref);
    const seqs = ref.map((id) => parseId(id)!.seq);
    expect(seqs).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    // History holds the same order, complete, for any subscriber.
    const r = await brokers[1]!.replay(streamsOfSubscriber('a', ['g']), `${parseId(ref[0]!)!.epoch}-0`);
    expect(r.complete).toBe(true);
    expect(r.messages.map((m) => m.id)).toEqual(ref);
  });

  it('a stream key lost as a whole (expiry, maxmemory eviction) makes replay incomplete, never partial', async () => {
    const prefix = fresh();
    const b = await make(prefix);
    const start = await b.position();
    const [m1, m2] = await b.publish([input(['a'], 1), input(['a'], 2)]);
    const c = redis.client();
    await c.del(`${prefix}h:u:a`);
    expect(await b.replay(['u:a'], start)).toMatchObject({ complete: false, reason: 'history_lost' });
    expect(await b.replay(['u:a'], m1!.id)).toMatchObject({ complete: false });
    expect(await b.replay(['u:a'], m2!.id)).toMatchObject({ complete: true, messages: [] });
    // Written again: the new key remembers what its predecessor lost.
    const [m3] = await b.publish([input(['a'], 3)]);
    expect(await b.replay(['u:a'], m1!.id)).toMatchObject({ complete: false });
    const ok = await b.replay(['u:a'], m2!.id);
    expect(ok.messages.map((m) => m.id)).toEqual([m3!.id]);
  });

  it('a stream forgotten by MAX_STREAMS and written again stays honest about what it lost', async () => {
    const b = await make(fresh(), { maxStreams: 2 });
    const start = await b.position();
    await b.publish([input(['a'], 1)]);
    await b.publish([input(['b'], 2)]);
    await b.publish([input(['c'], 3)]); // forgets u:a
    const [m4] = await b.publish([input(['a'], 4)]);
    expect(await b.replay(['u:a'], start)).toMatchObject({ complete: false });
    expect(await b.replay(['u:a'], `${parseId(start)!.epoch}-3`)).toMatchObject({
      complete: true,
      messages: [expect.objectContaining({ id: m4!.id })],
    });
  });

  it('goes unhealthy while Redis is down, fails publishes with 503, and recovers with a resync', async () => {
    const own = await startRedis();
    closers.push(() => own.close());
    const config = loadConfig({ REDIS_URL: own.url, LOG_LEVEL: 'silent' });
    const b = await createRedisBroker(config);
    closers.push(() => b.close());
    let resyncs = 0;
    b.onResync(() => resyncs++);
    const c = collect(b);
    await b.publish([input(['a'], 1)]);
    await c.waitFor(1);
    await own.stop();
    const until = async (f: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!f()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => !b.healthy, 5000);
    await expect(b.publish([input(['a'], 2)])).rejects.toMatchObject({
      kind: 'unavailable',
      code: 'backend_unavailable',
    });
    await expect(b.position()).rejects.toMatchObject({ kind: 'unavailable' });
    await own.start();
    await until(() => b.healthy, 10_000);
    expect(resyncs).toBe(1);
    const [m] = await b.publish([input(['a'], 3)]);
    await c.waitFor(2);
    expect(c.seen[1]!.id).toBe(m!.id);
  }, 30_000);
});
