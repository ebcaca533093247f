/**
 * The Redis scripts (publish/replay) against a model that remembers every message ever
 * published. Random publishes (also batches), whole keys vanishing (TTL ran out, maxmemory
 * eviction: DEL), and replays, under tiny HISTORY_SIZE and MAX_STREAMS.
 * - Soundness: a complete replay is exactly the messages of those streams after the position.
 * - Tightness (size bound only, nothing deleted): refused only when a message really was trimmed.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker-redis.js';
import { formatId, parseId } from '../../src/ids.js';
import type { PublishInput } from '../../src/message.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();
const UIDS = ['a', 'b'];
const GROUPS = ['x', 'y'];

type Op =
  | { kind: 'publish'; batch: { to: string[]; groups: string[] }[] }
  | { kind: 'delete'; stream: string }
  | { kind: 'replay'; uid: string; groups: string[]; back: number };

const target = fc.record({ to: fc.subarray(UIDS), groups: fc.subarray(GROUPS) });
const opArb = (withDeletes: boolean): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('publish' as const),
        batch: fc.array(target, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: withDeletes ? 1 : 0,
      arbitrary: fc.record({
        kind: fc.constant('delete' as const),
        stream: fc.constantFrom('u:a', 'u:b', 'g:x', 'g:y', '*'),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('replay' as const),
        uid: fc.constantFrom(...UIDS),
        groups: fc.subarray(GROUPS),
        back: fc.integer({ min: 0, max: 12 }),
      }),
    },
  );

const streamsOf = (t: { to: string[]; groups: string[] }) =>
  t.to.length === 0 && t.groups.length === 0
    ? ['*']
    : [...t.to.map((u) => `u:${u}`), ...t.groups.map((g) => `g:${g}`)];

describe.skipIf(skip !== undefined)(`Redis scripts against a model${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let pub: Redis;
  let sub: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    pub = new Redis(redis.url);
    sub = new Redis(redis.url);
  });
  afterAll(async () => {
    pub?.disconnect();
    sub?.disconnect();
    await redis?.close();
  });

  async function run(size: number, maxStreams: number, ops: Op[], tight: boolean): Promise<void> {
    const prefix = `m${randomBytes(4).toString('hex')}:`;
    const broker = new RedisBroker({ pub, sub, prefix, size, ttlMs: 0, maxStreams });
    try {
      await broker.ready();
      const log: { seq: number; streams: string[] }[] = [];
      let epoch = '';
      let seq = 0;
      for (const op of ops) {
        if (op.kind === 'publish') {
          const inputs: PublishInput[] = op.batch.map((t) => ({ ...t, event: 'm', data: '1' }));
          const out = await broker.publish(inputs);
          out.forEach((m, i) => {
            log.push({ seq: m.seq, streams: streamsOf(op.batch[i]!) });
          });
          seq = out[out.length - 1]!.seq;
          epoch = parseId(out[0]!.id)!.epoch;
        } else if (op.kind === 'delete') {
          await pub.del(`${prefix}h:${op.stream}`);
        } else if (epoch !== '') {
          const after = Math.max(0, seq - op.back);
          const streams = [`u:${op.uid}`, ...op.groups.map((g) => `g:${g}`), '*'];
          const r = await broker.replay(streams, formatId(epoch, after));
          const owed = log.filter((l) => l.seq > after && l.streams.some((s) => streams.includes(s)));
          if (r.complete) {
            expect(r.messages.map((m) => m.seq)).toEqual(owed.map((l) => l.seq));
          } else if (tight) {
            const dropped = streams.some((s) => {
              const inStream = log.filter((l) => l.streams.includes(s));
              return inStream.slice(0, Math.max(0, inStream.length - size)).some((l) => l.seq > after);
            });
            expect(dropped).toBe(true);
          }
        }
      }
    } finally {
      await broker.close();
    }
  }

  it('complete replays are exact under HISTORY_SIZE, MAX_STREAMS and vanished keys', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(opArb(true), { minLength: 1, maxLength: 40 }),
        (size, maxStreams, ops) => run(size, maxStreams, ops, false),
      ),
      { numRuns: 120 },
    );
  }, 60_000);

  it('replays are refused only when a message after the position really was trimmed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb(false), { minLength: 1, maxLength: 40 }),
        (size, ops) => run(size, 1000, ops, true),
      ),
      { numRuns: 120 },
    );
  }, 60_000);
});
