/**
 * The Broker contract, as one suite every implementation runs (memory and Redis): same tests,
 * same expectations. Each implementation file calls `brokerContract` with a factory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker.js';
import { parseId } from '../../src/ids.js';
import type { Message, PublishInput } from '../../src/message.js';
import { streamsOfSubscriber } from '../../src/message.js';

export interface ContractOptions {
  size: number;
  ttlMs: number;
  maxStreams: number;
}

export interface BrokerUnderTest {
  readonly broker: Broker;
  /** Closes the broker and whatever the factory opened for it. */
  close(): Promise<void>;
}

export type BrokerFactory = (opts: ContractOptions) => Promise<BrokerUnderTest>;

const DEFAULTS: ContractOptions = { size: 100, ttlMs: 0, maxStreams: 1000 };

export const input = (to: string[], data: unknown = {}, groups: string[] = []): PublishInput => ({
  to,
  groups,
  event: 'message',
  data: JSON.stringify(data),
});

/** Collects every message a broker hands to its listener. */
export function collect(broker: Broker) {
  const seen: Message[] = [];
  broker.subscribe((m) => seen.push(m));
  return {
    seen,
    async waitFor(n: number, ms = 3000): Promise<Message[]> {
      const deadline = Date.now() + ms;
      while (seen.length < n) {
        if (Date.now() > deadline) throw new Error(`listener saw ${seen.length} of ${n} messages`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return seen;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function brokerContract(name: string, factory: BrokerFactory, skip?: string): void {
  describe.skipIf(skip !== undefined)(`Broker contract: ${name}`, () => {
    const open: BrokerUnderTest[] = [];
    const make = async (opts: Partial<ContractOptions> = {}) => {
      const b = await factory({ ...DEFAULTS, ...opts });
      open.push(b);
      return b.broker;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('carries exclude to listeners and leaves excluded readers out of replay, paging included', async () => {
      const b = await make();
      const live = collect(b);
      const start = await b.position();
      const [m1, m2, m3] = await b.publish([
        { ...input([], { n: 1 }, ['g']), exclude: ['x'] },
        input([], { n: 2 }, ['g']),
        { ...input([], { n: 3 }), exclude: ['x', 'y'] },
      ]);
      const seen = await live.waitFor(3);
      expect(seen.map((m) => m.exclude ?? [])).toEqual([['x'], [], ['x', 'y']]);
      const streams = streamsOfSubscriber('x', ['g']);
      const forX = await b.replay(streams, start, { reader: 'x' });
      expect(forX.messages.map((m) => m.id)).toEqual([m2!.id]);
      const forZ = await b.replay(streams, start, { reader: 'z' });
      expect(forZ.messages.map((m) => m.id)).toEqual([m1!.id, m2!.id, m3!.id]);
      expect(forZ.messages[0]!.exclude).toEqual(['x']);
      // A page whose messages are all excluded is empty but still moves on.
      const page = await b.replay(streams, start, { reader: 'x', limit: 1 });
      expect(page).toMatchObject({ complete: true, messages: [], more: true, position: m1!.id });
      const next = await b.replay(streams, page.position, { reader: 'x', limit: 1 });
      expect(next.messages.map((m) => m.id)).toEqual([m2!.id]);
    });

    it('is healthy and starts at a position with seq 0 that the epoch names', async () => {
      const b = await make();
      expect(b.healthy).toBe(true);
      const p = parseId(await b.position());
      expect(p).toBeDefined();
      expect(p!.seq).toBe(0);
    });

    it('assigns increasing ids in publish order and moves the position', async () => {
      const b = await make();
      const first = await b.publish([input(['a']), input(['b']), input([], { x: 1 })]);
      const second = await b.publish([input(['a'])]);
      const seqs = [...first, ...second].map((m) => parseId(m.id)!.seq);
      expect(seqs).toEqual([1, 2, 3, 4]);
      expect(new Set([...first, ...second].map((m) => parseId(m.id)!.epoch)).size).toBe(1);
      expect(await b.position()).toBe(second[0]!.id);
      expect(first[2]!.data).toBe('{"x":1}');
      expect(first[0]!.frame).toContain(`id:${first[0]!.id}`);
    });

    it('hands every message to the listener once, in id order, with its frame', async () => {
      const b = await make();
      const c = collect(b);
      const sent: Message[] = [];
      for (let i = 0; i < 20; i++) sent.push(...(await b.publish([input([`u${i % 3}`], { i })])));
      const seen = await c.waitFor(20);
      expect(seen.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(seen[5]!.frame).toBe(sent[5]!.frame);
      expect(seen[5]!.to).toEqual(['u2']);
    });

    it('replays what a subscriber missed, merged across its streams, each message once', async () => {
      const b = await make();
      const start = await b.position();
      await b.publish([
        input(['a'], 1),
        input(['b'], 2),
        input(['a'], 3, ['g']),
        input([], 4),
        input([], 5, ['g']),
      ]);
      const r = await b.replay(streamsOfSubscriber('a', ['g']), start);
      expect(r.complete).toBe(true);
      expect(r.messages.map((m) => m.data)).toEqual(['1', '3', '4', '5']);
      expect(r.position).toBe(await b.position());
      const mid = r.messages[1]!.id;
      const r2 = await b.replay(streamsOfSubscriber('a', ['g']), mid);
      expect(r2.messages.map((m) => m.data)).toEqual(['4', '5']);
      const r3 = await b.replay(streamsOfSubscriber('b', []), r.position);
      expect(r3).toMatchObject({ complete: true, messages: [] });
    });

    it('refuses to replay bad ids, other epochs and ids from the future', async () => {
      const b = await make();
      await b.publish([input(['a'])]);
      const streams = streamsOfSubscriber('a', []);
      const pos = await b.position();
      const epoch = parseId(pos)!.epoch;
      expect(await b.replay(streams, 'nope')).toMatchObject({
        complete: false,
        reason: 'bad_id',
        position: pos,
      });
      expect(await b.replay(streams, 'zzzzzz-1')).toMatchObject({ complete: false, reason: 'epoch_changed' });
      expect(await b.replay(streams, `${epoch}-99`)).toMatchObject({ complete: false, reason: 'unknown_id' });
    });

    it('keeps HISTORY_SIZE per stream and proves loss exactly', async () => {
      const b = await make({ size: 3 });
      const start = await b.position();
      const ms = await b.publish([1, 2, 3, 4, 5].map((i) => input(['a'], i)));
      await b.publish([input(['b'], 'other')]);
      const streams = streamsOfSubscriber('a', []);
      expect(await b.replay(streams, start)).toMatchObject({
        complete: false,
        reason: 'history_lost',
        messages: [],
      });
      expect(await b.replay(streams, ms[0]!.id)).toMatchObject({ complete: false });
      const ok = await b.replay(streams, ms[1]!.id);
      expect(ok.complete).toBe(true);
      expect(ok.messages.map((m) => m.data)).toEqual(['3', '4', '5']);
      // Eviction in one stream does not spoil replay of another.
      await b.publish([6, 7, 8, 9].map((i) => input(['c'], i)));
      const rb = await b.replay(streamsOfSubscriber('b', []), start);
      expect(rb.complete).toBe(true);
      expect(rb.messages.map((m) => m.data)).toEqual(['"other"']);
    });

    it('expires messages after the TTL and proves it', async () => {
      const b = await make({ ttlMs: 300 });
      const start = await b.position();
      const [m1] = await b.publish([input(['a'], 1)]);
      await sleep(450);
      const [m2] = await b.publish([input(['a'], 2)]);
      const streams = streamsOfSubscriber('a', []);
      expect(await b.replay(streams, start)).toMatchObject({ complete: false, reason: 'history_lost' });
      const ok = await b.replay(streams, m1!.id);
      expect(ok.complete).toBe(true);
      expect(ok.messages.map((m) => m.id)).toEqual([m2!.id]);
      await sleep(450);
      // Everything expired: from before the newest, incomplete; from the newest, complete.
      expect(await b.replay(streams, m1!.id)).toMatchObject({ complete: false });
      expect(await b.replay(streams, m2!.id)).toMatchObject({ complete: true, messages: [] });
    });

    it('forgets the least recently written stream beyond MAX_STREAMS and proves it', async () => {
      const b = await make({ maxStreams: 2 });
      const start = await b.position();
      await b.publish([input(['a'], 1)]);
      await b.publish([input(['b'], 2)]);
      await b.publish([input(['c'], 3)]);
      const afterAll = await b.position();
      expect(await b.replay(streamsOfSubscriber('a', []).slice(0, 1), start)).toMatchObject({
        complete: false,
      });
      expect(await b.replay(['u:a'], afterAll)).toMatchObject({ complete: true, messages: [] });
      const rc = await b.replay(['u:c'], start);
      expect(rc.complete).toBe(true);
      expect(rc.messages.map((m) => m.data)).toEqual(['3']);
    });

    it('replays at most `limit` messages: an exact prefix in id order across streams, `more` when it stopped', async () => {
      const b = await make({ size: 1000 });
      const start = await b.position();
      // Interleaved: a long uid stream, a group, broadcasts, a message in two streams, other users.
      const sent: Message[] = [];
      for (let i = 0; i < 60; i++) {
        const kind = i % 6;
        const one =
          kind === 0
            ? input(['a'], i, ['g'])
            : kind === 1
              ? input([], i)
              : kind === 2
                ? input(['b'], i)
                : kind === 3
                  ? input([], i, ['g'])
                  : input(['a'], i);
        sent.push(...(await b.publish([one])));
      }
      const streams = streamsOfSubscriber('a', ['g']);
      const full = await b.replay(streams, start);
      expect(full.complete).toBe(true);
      expect(full.more ?? false).toBe(false);
      const expected = sent.filter((m) => m.to.length === 0 || m.to.includes('a') || m.groups.includes('g'));
      expect(full.messages.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      for (const limit of [1, 7, 10, 49]) {
        const got: string[] = [];
        let from = start;
        for (let page = 0; page < 100; page++) {
          const r = await b.replay(streams, from, { limit });
          expect(r.complete).toBe(true);
          expect(r.messages.length).toBeLessThanOrEqual(limit);
          got.push(...r.messages.map((m) => m.id));
          if (!r.more) {
            expect(r.position).toBe(full.position);
            break;
          }
          // Stopped at the limit: the page is full and its position is its last message.
          expect(r.messages).toHaveLength(limit);
          expect(r.position).toBe(r.messages[limit - 1]!.id);
          from = r.position;
        }
        expect(got, `limit ${limit}`).toEqual(expected.map((m) => m.id));
      }
      // A limit the answer fits in is the unlimited replay.
      const exact = await b.replay(streams, start, { limit: expected.length });
      expect(exact.more ?? false).toBe(false);
      expect(exact.messages.map((m) => m.id)).toEqual(expected.map((m) => m.id));
      expect(exact.position).toBe(full.position);
      const over = await b.replay(streams, start, { limit: expected.length - 1 });
      expect(over.more).toBe(true);
    });

    it('a limited replay still refuses when history was lost', async () => {
      const b = await make({ size: 3 });
      const start = await b.position();
      await b.publish([1, 2, 3, 4, 5].map((i) => input(['a'], i)));
      expect(await b.replay(streamsOfSubscriber('a', []), start, { limit: 2 })).toMatchObject({
        complete: false,
        reason: 'history_lost',
        messages: [],
      });
    });

    it('keeps names apart that differ only in ill-formed UTF-16 (lone surrogates)', async () => {
      const b = await make();
      const start = await b.position();
      // Each pair would be one key if names were encoded as UTF-8 with replacement characters.
      const names = ['\ud83d', '\ufffd', '\udc00', '\ud83d\ude00', 'a\ud800', 'a\ufffd', '\ud800\ud800'];
      for (const n of names) await b.publish([input([n], n, [n])]);
      for (const n of names) {
        const r = await b.replay(streamsOfSubscriber(n, []), start);
        expect(r.complete).toBe(true);
        expect(r.messages.map((m) => JSON.parse(m.data))).toEqual([n]);
        expect(r.messages[0]!.to).toEqual([n]);
        const g = await b.replay([`g:${n}`], start);
        expect(g.messages.map((m) => JSON.parse(m.data))).toEqual([n]);
      }
    });

    it('rejects calls after close, stops calling listeners, and closes idempotently', async () => {
      const b = await make();
      const c = collect(b);
      await b.close();
      await b.close();
      await expect(b.publish([input(['a'])])).rejects.toMatchObject({ code: 'closed' });
      await expect(b.position()).rejects.toMatchObject({ code: 'closed' });
      await expect(b.replay(['u:a'], 'x-1')).rejects.toMatchObject({ code: 'closed' });
      expect(c.seen).toEqual([]);
    });
  });
}
