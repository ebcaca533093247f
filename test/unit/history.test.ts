import { describe, expect, it } from 'vitest';
import { History } from '../../src/history.js';
import { createMessage, type Message, streamsOfMessage, streamsOfSubscriber } from '../../src/message.js';

let seq = 0;
let clock = 1_000_000;
function msg(to: string[], groups: string[] = []): Message {
  seq++;
  return createMessage({ to, groups, event: 'message', data: String(seq) }, `e-${seq}`, seq, clock);
}
function history(over: Partial<ConstructorParameters<typeof History>[0]> = {}) {
  seq = 0;
  return new History({ size: 3, ttlMs: 0, maxStreams: 100, maxBytes: 1 << 30, now: () => clock, ...over });
}
function publish(h: History, m: Message): Message {
  h.append(streamsOfMessage(m), m);
  return m;
}
const seqs = (ms: Message[]) => ms.map((m) => m.seq);

describe('History.replay', () => {
  it('merges uid, group and broadcast streams in seq order, each message once', () => {
    const h = history({ size: 10 });
    publish(h, msg(['a']));
    publish(h, msg([], ['g']));
    publish(h, msg([]));
    publish(h, msg(['b']));
    publish(h, msg(['a'], ['g'])); // in two of a's streams: must come once
    const r = h.replay(streamsOfSubscriber('a', ['g']), 0);
    expect(r.complete).toBe(true);
    expect(seqs(r.messages)).toEqual([1, 2, 3, 5]);
    expect(seqs(h.replay(streamsOfSubscriber('a', ['g']), 2).messages)).toEqual([3, 5]);
  });

  it('replays when each stream still holds everything after the position', () => {
    const h = history({ size: 3 });
    for (let i = 0; i < 5; i++) publish(h, msg(['a'])); // a keeps 3,4,5; evicted up to 2
    expect(h.replay(streamsOfSubscriber('a', []), 2)).toEqual({
      complete: true,
      messages: expect.any(Array),
    });
    expect(seqs(h.replay(streamsOfSubscriber('a', []), 2).messages)).toEqual([3, 4, 5]);
  });

  it('is incomplete when a stream evicted a message after the position', () => {
    const h = history({ size: 3 });
    for (let i = 0; i < 5; i++) publish(h, msg(['a']));
    expect(h.replay(streamsOfSubscriber('a', []), 1)).toEqual({ complete: false, messages: [] });
  });

  it('judges each stream by its own evictions, not by its oldest kept id', () => {
    const h = history({ size: 2 });
    publish(h, msg(['a'])); // 1
    for (let i = 0; i < 5; i++) publish(h, msg(['b'])); // 2..6 to b only
    publish(h, msg(['a'])); // 7
    // a's stream holds 1 and 7 and evicted nothing: a resume from 1 is complete.
    const r = h.replay(streamsOfSubscriber('a', []), 1);
    expect(r.complete).toBe(true);
    expect(seqs(r.messages)).toEqual([7]);
  });

  it('treats expired messages as lost (TTL)', () => {
    clock = 1_000_000;
    const h = history({ size: 10, ttlMs: 1000 });
    publish(h, msg(['a'])); // 1 at t0
    clock += 600;
    publish(h, msg(['a'])); // 2 at t0+600
    clock += 600; // 1 is expired now, 2 is not
    expect(h.replay(streamsOfSubscriber('a', []), 0).complete).toBe(false);
    expect(seqs(h.replay(streamsOfSubscriber('a', []), 1).messages)).toEqual([2]);
    clock += 1000;
    h.sweep();
    expect(h.streamCount).toBe(0);
    expect(h.replay(streamsOfSubscriber('a', []), 1).complete).toBe(false);
    expect(h.replay(streamsOfSubscriber('a', []), 2).complete).toBe(true);
  });

  it('remembers a forgotten stream (LRU) through its tombstone', () => {
    const h = history({ size: 10, maxStreams: 2 });
    publish(h, msg(['a'])); // 1
    publish(h, msg(['b'])); // 2
    publish(h, msg(['c'])); // 3: a's stream is forgotten
    expect(h.streamCount).toBe(2);
    expect(h.replay(['u:a'], 0).complete).toBe(false);
    expect(h.replay(['u:a'], 1)).toEqual({ complete: true, messages: [] });
    // A stream that never existed is complete from anywhere.
    expect(h.replay(['u:zzz'], 0)).toEqual({ complete: true, messages: [] });
    // A recreated stream still knows what it lost.
    publish(h, msg(['a'])); // 4
    expect(h.replay(['u:a'], 0).complete).toBe(false);
    expect(seqs(h.replay(['u:a'], 1).messages)).toEqual([4]);
  });

  it('bounds the bytes held by evicting least recently used streams', () => {
    const h = history({ size: 100, maxStreams: 1000, maxBytes: 4000 });
    for (let i = 0; i < 200; i++) publish(h, msg([`u${i}`]));
    expect(h.bytes).toBeLessThanOrEqual(4000);
    expect(h.streamCount).toBeLessThan(200);
    expect(h.replay(['u:u0'], 0).complete).toBe(false);
    expect(h.replay(['u:u199'], 0).complete).toBe(true);
  });

  it('counts a message addressed to many streams once (16.6: one big push evicted everyone)', () => {
    const h = history({ size: 100, maxStreams: 10_000, maxBytes: 4 * 1024 * 1024 });
    for (let i = 0; i < 200; i++) publish(h, msg([`early${i}`]));
    const to = Array.from({ length: 1000 }, (_, i) => `many${i}`);
    seq++;
    const big = createMessage(
      { to, groups: [], event: 'message', data: JSON.stringify('x'.repeat(64 * 1024)) },
      `e-${seq}`,
      seq,
      clock,
    );
    h.append(streamsOfMessage(big), big);
    for (let i = 0; i < 200; i++) {
      const r = h.replay([`u:early${i}`], 0);
      expect(r.complete, `early${i}`).toBe(true);
      expect(r.messages).toHaveLength(1);
    }
    expect(h.replay(['u:many999'], 0).messages).toEqual([big]);
    expect(h.bytes).toBeLessThan(1024 * 1024);
    // Once the last stream holding it lets go, its bytes are gone too.
    h.clear();
    expect(h.bytes).toBe(0);
  });

  it('counts each stream and its ring slots, not only message bytes (16.6: empty slots were free)', () => {
    const h = history({ size: 2000, maxStreams: 100_000, maxBytes: 1 << 30 });
    for (let i = 0; i < 1000; i++) publish(h, msg([`one${i}`]));
    // Each stream costs its objects, key and (lazily grown) slots besides the 1-byte message.
    expect(h.bytes).toBeGreaterThanOrEqual(1000 * 300);
    // ...and no more than a few slots: rings are not allocated at HISTORY_SIZE.
    expect(h.bytes).toBeLessThan(1000 * 1000);
    const bounded = history({ size: 2000, maxStreams: 100_000, maxBytes: 256 * 1024 });
    for (let i = 0; i < 5000; i++) publish(bounded, msg([`one${i}`]));
    expect(bounded.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(bounded.streamCount).toBeLessThan(1000);
  });

  it('bounds tombstones by bytes too, and a forgotten tombstone still refuses old resumes', () => {
    const h = history({ size: 10, maxStreams: 1_000_000, maxBytes: 4 * 1024 * 1024 });
    for (let i = 0; i < 60_000; i++) publish(h, msg([`gone${i}`]));
    expect(h.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(h.tombstoneBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(h.tombstoneBytes).toBeGreaterThan(0);
    // The oldest streams' tombstones are gone: their resumes are refused, never partial.
    expect(h.replay(['u:gone0'], 0)).toEqual({ complete: false, messages: [] });
    expect(h.replay(['u:gone59999'], 59_999).complete).toBe(true);
  });

  it('releases shared messages exactly: bytes return to the empty-stream cost after eviction', () => {
    const h = history({ size: 2, maxStreams: 100 });
    const base = () => h.bytes;
    publish(h, msg(['a', 'b'], ['g']));
    const withOne = base();
    publish(h, msg(['a', 'b'], ['g']));
    publish(h, msg(['a', 'b'], ['g']));
    publish(h, msg(['a', 'b'], ['g']));
    // Two kept per stream, the same two everywhere: twice the first message's cost, roughly.
    expect(h.bytes).toBeLessThan(withOne * 2);
    expect(h.replay(streamsOfSubscriber('a', ['g']), 2).messages.map((m) => m.seq)).toEqual([3, 4]);
  });

  it('keeps only complete replays: never a partial one', () => {
    const h = history({ size: 2 });
    publish(h, msg(['a'], ['g'])); // 1
    publish(h, msg([], ['g'])); // 2
    publish(h, msg([], ['g'])); // 3: g evicted 1
    const r = h.replay(streamsOfSubscriber('a', ['g']), 0);
    expect(r).toEqual({ complete: false, messages: [] });
  });
});
