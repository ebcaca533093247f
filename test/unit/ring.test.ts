import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/ring.js';

const item = (seq: number) => ({ seq });

describe('RingBuffer', () => {
  it('keeps the newest `capacity` items in order and remembers the newest evicted seq', () => {
    const r = new RingBuffer<{ seq: number }>(3);
    for (let i = 1; i <= 5; i++) r.push(item(i));
    expect(r.size).toBe(3);
    expect(r.after(0).map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(r.evictedSeq).toBe(2);
    expect(r.oldest()?.seq).toBe(3);
    expect(r.newest()?.seq).toBe(5);
  });

  it('returns only items after a seq, with binary search across the wrap point', () => {
    const r = new RingBuffer<{ seq: number }>(4);
    for (const s of [2, 4, 6, 8, 10, 12]) r.push(item(s));
    expect(r.after(5).map((m) => m.seq)).toEqual([6, 8, 10, 12]);
    expect(r.after(8).map((m) => m.seq)).toEqual([10, 12]);
    expect(r.after(7).map((m) => m.seq)).toEqual([8, 10, 12]);
    expect(r.after(12)).toEqual([]);
    expect(r.after(100)).toEqual([]);
  });

  it('shift removes the oldest and records it as evicted', () => {
    const r = new RingBuffer<{ seq: number }>(2);
    r.push(item(7));
    r.push(item(9));
    expect(r.shift()?.seq).toBe(7);
    expect(r.evictedSeq).toBe(7);
    expect(r.size).toBe(1);
    expect(r.shift()?.seq).toBe(9);
    expect(r.shift()).toBeUndefined();
    expect(r.evictedSeq).toBe(9);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });

  it('allocates slots on demand, never beyond capacity (16.6: rings were allocated whole)', () => {
    const r = new RingBuffer<{ seq: number }>(2000);
    expect(r.slots).toBeLessThanOrEqual(4);
    r.push(item(1));
    expect(r.slots).toBeLessThanOrEqual(4);
    for (let i = 2; i <= 5000; i++) r.push(item(i));
    expect(r.slots).toBe(2000);
    expect(r.size).toBe(2000);
    expect(r.evictedSeq).toBe(3000);
    expect(r.oldest()!.seq).toBe(3001);
    expect(r.newest()!.seq).toBe(5000);
  });

  it('keeps FIFO order across growth after wrap-around and shifts', () => {
    for (const capacity of [1, 3, 5, 8, 13]) {
      const r = new RingBuffer<{ seq: number }>(capacity, 2);
      const model: number[] = [];
      let seq = 0;
      for (let step = 0; step < 200; step++) {
        if (step % 7 === 3 && model.length > 0) {
          expect(r.shift()!.seq).toBe(model.shift());
        } else {
          seq++;
          const ev = r.push(item(seq));
          model.push(seq);
          if (model.length > capacity) expect(ev!.seq).toBe(model.shift());
          else expect(ev).toBeUndefined();
        }
        expect(r.all().map((x) => x.seq)).toEqual(model);
        expect(r.slots).toBeLessThanOrEqual(capacity);
        const mid = model[Math.floor(model.length / 2)] ?? 0;
        expect(r.after(mid).map((x) => x.seq)).toEqual(model.filter((s) => s > mid));
        expect(r.after(mid, 2).map((x) => x.seq)).toEqual(model.filter((s) => s > mid).slice(0, 2));
      }
    }
  });
});
