/**
 * The IdempotencyStore contract, one suite for every implementation (memory and Redis). Each
 * store publishes through a real Hub over its real broker; publishes are counted at the broker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker.js';
import { loadConfig } from '../../src/config.js';
import { Hub } from '../../src/hub.js';
import {
  fingerprintOf,
  type IdempotencyStore,
  type KeyedPush,
  type Publisher,
} from '../../src/idempotency.js';
import { createLogger } from '../../src/logger.js';
import type { Message, PublishInput } from '../../src/message.js';

export interface StoreUnderTest {
  readonly store: IdempotencyStore;
  readonly hub: Hub;
  /** Every message the broker published, as its listener saw them. */
  readonly seen: Message[];
  close(): Promise<void>;
}

export type StoreFactory = (opts: { ttlMs: number }) => Promise<StoreUnderTest>;

/** A Hub over `broker` with test defaults, and a message counter on the broker. */
export function hubOver(broker: Broker): { hub: Hub; seen: Message[] } {
  const config = loadConfig({ JWT_SECRET: 'test-secret-0123456789abcdef', LOG_LEVEL: 'silent' });
  const seen: Message[] = [];
  broker.subscribe((m) => seen.push(m));
  return { hub: new Hub(config, broker, undefined, createLogger('silent')), seen };
}

const msg = (data: unknown, to = 'u1'): PublishInput => ({
  to: [to],
  groups: [],
  event: 'message',
  data: JSON.stringify(data),
});

export const keyed = (key: string, inputs: PublishInput[], batch = inputs.length > 1): KeyedPush => ({
  key,
  fingerprint: fingerprintOf(inputs, batch),
  inputs,
});

/** Lets the broker's fan-out (Redis pub/sub) arrive before counting. */
export const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

export function idempotencyContract(name: string, make: StoreFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`IdempotencyStore contract: ${name}`, () => {
    let open: StoreUnderTest[] = [];
    const start = async (ttlMs = 60_000) => {
      const s = await make({ ttlMs });
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open) await s.close();
      open = [];
    });

    it('publishes the first request and answers a retry with the same answer, publishing nothing', async () => {
      const s = await start();
      const first = await s.store.run(keyed('k1', [msg({ n: 1 })]), s.hub);
      expect(first.kind).toBe('published');
      const again = await s.store.run(keyed('k1', [msg({ n: 1 })]), s.hub);
      expect(again.kind).toBe('replayed');
      if (first.kind === 'conflict' || again.kind === 'conflict') throw new Error('conflict');
      expect(again.answers).toEqual(first.answers);
      await settle();
      expect(s.seen.length).toBe(1);
    });

    it('answers conflict for the same key with another body, and publishes nothing', async () => {
      const s = await start();
      await s.store.run(keyed('k2', [msg({ n: 1 })]), s.hub);
      const other = await s.store.run(keyed('k2', [msg({ n: 2 })]), s.hub);
      expect(other.kind).toBe('conflict');
      await settle();
      expect(s.seen.length).toBe(1);
    });

    it('keeps a batch whole: one publish of every item, the same ids replayed in order', async () => {
      const s = await start();
      const items = [msg(1), msg(2), msg(3, 'u2')];
      const first = await s.store.run(keyed('kb', items), s.hub);
      const again = await s.store.run(keyed('kb', items), s.hub);
      if (first.kind === 'conflict' || again.kind === 'conflict') throw new Error('conflict');
      expect(first.answers.length).toBe(3);
      expect(again.answers).toEqual(first.answers);
      await settle();
      expect(s.seen.map((m) => m.id)).toEqual(first.answers.map((a) => a.id));
    });

    it('publishes once for concurrent duplicates; every duplicate gets the first answer', async () => {
      const s = await start();
      const runs = await Promise.all(
        Array.from({ length: 8 }, () => s.store.run(keyed('kc', [msg('x')]), s.hub)),
      );
      expect(runs.filter((r) => r.kind === 'published').length).toBe(1);
      const ids = new Set(runs.map((r) => (r.kind === 'conflict' ? 'conflict' : r.answers[0]!.id)));
      expect(ids.size).toBe(1);
      await settle();
      expect(s.seen.length).toBe(1);
    });

    it('treats different keys independently', async () => {
      const s = await start();
      await s.store.run(keyed('ka', [msg(1)]), s.hub);
      await s.store.run(keyed('kz', [msg(1)]), s.hub);
      await settle();
      expect(s.seen.length).toBe(2);
    });

    it('forgets a key after its TTL: the same request publishes again', async () => {
      const s = await start(300);
      const first = await s.store.run(keyed('kt', [msg(1)]), s.hub);
      await new Promise((r) => setTimeout(r, 500));
      const later = await s.store.run(keyed('kt', [msg(1)]), s.hub);
      expect(first.kind).toBe('published');
      expect(later.kind).toBe('published');
      await settle();
      expect(s.seen.length).toBe(2);
    });

    it('records nothing when the publish fails, so a retry publishes', async () => {
      const s = await start();
      let fail = true;
      const down = () => Promise.reject(new Error('backend down'));
      const flaky: Publisher = {
        publish: (i) => (fail ? down() : s.hub.publish(i)),
        publishOnce: (i, o) => (fail ? down() : s.hub.publishOnce(i, o)),
      };
      await expect(s.store.run(keyed('kf', [msg(1)]), flaky)).rejects.toThrow(/backend down/);
      fail = false;
      expect((await s.store.run(keyed('kf', [msg(1)]), flaky)).kind).toBe('published');
      await settle();
      expect(s.seen.length).toBe(1);
    });

    it('refuses calls after close()', async () => {
      const s = await start();
      await s.store.close();
      await s.store.close();
      await expect(s.store.run(keyed('kx', [msg(1)]), s.hub)).rejects.toThrow(/closed/);
    });
  });
}
