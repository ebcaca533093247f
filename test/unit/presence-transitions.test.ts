import { describe, expect, it } from 'vitest';
import { PresenceTransitions } from '../../src/presence-transitions.js';

describe('presence transitions (memory)', () => {
  it('online at the first connection; offline only after the grace, dated at the last disconnect', () => {
    const t = new PresenceTransitions(10_000);
    const on = t.up('a', 1000);
    expect(on).toMatchObject({ type: 'online', uid: 'a', time: 1000 });
    t.down('a', 5000);
    expect(t.due(14_999)).toEqual([]);
    const [off] = t.due(15_000);
    expect(off).toMatchObject({ type: 'offline', uid: 'a', time: 5000 });
    expect(off!.id).not.toBe(on!.id);
  });

  it('a reconnect within the grace makes no event; types alternate over repeated cycles', () => {
    const t = new PresenceTransitions(1000);
    const types: string[] = [];
    const note = (e: { type: string } | undefined) => e && types.push(e.type);
    let now = 0;
    const at = (d: number) => {
      now += d;
      return now;
    };
    for (let cycle = 0; cycle < 5; cycle++) {
      note(t.up('a', now));
      t.down('a', at(10));
      note(t.up('a', at(500))); // a reload: no event
      t.down('a', at(10));
      for (const e of t.due(at(999))) note(e);
      for (const e of t.due(at(1))) note(e);
    }
    expect(types).toEqual([
      'online',
      'offline',
      'online',
      'offline',
      'online',
      'offline',
      'online',
      'offline',
      'online',
      'offline',
    ]);
  });

  it('due events come out oldest first, each once', () => {
    const t = new PresenceTransitions(100);
    for (const u of ['a', 'b', 'c']) t.up(u, 0);
    t.down('b', 10);
    t.down('a', 20);
    t.down('c', 30);
    t.up('c', 40);
    expect(t.due(1000).map((e) => e.uid)).toEqual(['b', 'a']);
    expect(t.due(2000)).toEqual([]);
  });
});
